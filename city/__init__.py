"""The city service: mobility figures beside the learning-city programme tables.

``create_app(ServiceConfig(dsn=...))`` builds the FastAPI application; ``run(config, host,
port)`` serves it under uvicorn (``pogo serve``), ``BackgroundServer`` in a thread (the demo).
"""

from city.app import create_app
from city.config import ServiceConfig
from city.errors import CityError
from city.server import BackgroundServer, run

__all__ = ["BackgroundServer", "CityError", "ServiceConfig", "create_app", "run"]
