"""The city service: mobility figures beside the learning-city programme tables.

``create_app(ServiceConfig(dsn=...))`` builds the FastAPI application; ``pogo serve`` runs it
under uvicorn.
"""

from city.app import create_app
from city.config import ServiceConfig
from city.errors import CityError

__all__ = ["CityError", "ServiceConfig", "create_app"]
