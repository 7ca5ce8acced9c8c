"""The consumer: paho-mqtt 2 in, a bounded queue, a worker that decodes, committers that
write and then acknowledge.

The network thread (``loop_start``) only parks ``Message`` s in a bounded queue; the worker
(the thread that calls :meth:`Ingester.run`) takes them and builds a batch (decoded and
validated); one of ``committers`` threads writes it in one transaction and only then sends
the PUBACKs, while the worker builds the next batch. A batch is flushed when it holds
``batch_points`` points, Receive Maximum / (committers + 1) messages, or is
``flush_interval_s`` old. Nothing is acknowledged before commit, so a crash or a kill loses
nothing (the broker redelivers; primary keys make a redelivery a counted duplicate). A slow
database stops the reading: the broker stops at Receive Maximum unacknowledged messages,
and whatever it sends beyond that (Mosquitto 2.0 grants a whole new window on each PUBACK)
waits in the bounded queue, whose being full blocks the network thread (TCP backpressure).
"""

from __future__ import annotations

import datetime as dt
import queue
import random
import ssl
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import paho.mqtt.client as mqtt
import psycopg
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import CollectorRegistry, start_http_server
from psycopg_pool import ConnectionPool

from ingest.batch import Batch, DeadLetter, Message, WriteSet
from ingest.config import IngestConfig
from ingest.errors import Reason
from ingest.metrics import IngestMetrics
from ingest.topics import subscription
from ingest.validation import Rules
from ingest.writer import Writer, WriteResult, prepare_connection

__all__ = ["Ingester"]

log = structlog.get_logger("ingest")

# Errors of the data itself: the batch is retried message by message and the message the
# database refuses is dead-lettered. Every other database error is retried with backoff.
_DATA_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError)


class Ingester:
    """MQTT to the database for one client id.

    ``run(stop)`` blocks until ``stop`` is set, then flushes, acknowledges, disconnects and
    returns True (False if the database stayed unreachable for ``stop_timeout_s`` while
    stopping: what was not committed is not acknowledged, so the broker keeps it).
    ``ready`` is set once subscribed; ``metrics_port`` is the port actually served.
    """

    def __init__(
        self, config: IngestConfig, dsn: str, registry: CollectorRegistry | None = None
    ) -> None:
        self.config = config
        self.dsn = dsn
        self.metrics = IngestMetrics(registry)
        self.ready = threading.Event()
        self.metrics_port: int | None = None
        self._queue: queue.Queue[Message] = queue.Queue(maxsize=config.queue_messages)
        self.metrics.queue_capacity.set(config.queue_messages)
        self._generation = 0
        self._stopping = threading.Event()
        self._rules = Rules(config.max_future_s, config.max_age_days)
        self._client = self._make_client()

    # -- MQTT side (network thread) -------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        c = self.config
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=c.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if c.mqtt_username:
            client.username_pw_set(c.mqtt_username, c.mqtt_password)
        if c.mqtt_tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(1, 8)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection", reason=str(reason_code))
            return
        self._generation += 1
        # Subscribing on every connect keeps the subscription through broker restarts that
        # lost the session; retain_handling=1 avoids a resend of retained status when the
        # session kept it.
        options = SubscribeOptions(qos=1, retainHandling=1)
        topic = subscription(self.config.topic_root, self.config.shared_group)
        client.subscribe(topic, options=options)
        self.metrics.connected.set(1)
        log.info(
            "connected",
            session_present=flags.session_present,
            subscription=topic,
            generation=self._generation,
        )
        self.ready.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.metrics.connected.set(0)
        if not self._stopping.is_set():
            log.warning("disconnected; reconnecting", reason=str(reason_code))

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            message = Message(
                msg.topic, bytes(msg.payload), msg.mid, msg.qos, time.time(), self._generation
            )
        except UnicodeDecodeError:  # brokers reject such topics; never let it stop the loop
            message = Message(
                msg._topic.decode("utf-8", "replace"),
                bytes(msg.payload),
                msg.mid,
                msg.qos,
                time.time(),
                self._generation,
            )
        # Blocking here is the backpressure: the network thread stops reading. The worker
        # drains the queue without waiting for this thread, so it cannot last.
        while True:
            try:
                self._queue.put(message, timeout=0.5)
                return
            except queue.Full:
                if self._stopping.is_set():
                    return  # not acknowledged: the broker redelivers it

    # -- worker side ----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> bool:
        """Consume until ``stop`` is set; returns whether everything taken in was committed."""
        c = self.config
        server = None
        if c.metrics_port is not None:
            server, _ = start_http_server(c.metrics_port, c.metrics_host, self.metrics.registry)
            self.metrics_port = int(server.server_port)
        pool = ConnectionPool(
            self.dsn,
            min_size=c.committers,  # every committer has its connection before the first batch
            max_size=c.pool_size,
            name=f"ingest-{c.client_id}",
            configure=prepare_connection,
            # psycopg_pool backs off exponentially without a cap while it reconnects; giving
            # an attempt up early lets the next write start a fresh one (our own backoff,
            # capped at retry_max_s, paces the writes), so recovery is quick after any outage.
            reconnect_timeout=max(2 * c.retry_max_s, 5.0),
            open=False,
        )
        try:
            pool.open(wait=False)
            writer = Writer(pool, connection_timeout_s=2.0)
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = c.session_expiry_s
            props.ReceiveMaximum = c.receive_maximum
            self._client.connect_async(
                c.mqtt_host, c.mqtt_port, c.keepalive_s, clean_start=False, properties=props
            )
            self._client.loop_start()
            log.info(
                "ingester started",
                broker=f"{c.mqtt_host}:{c.mqtt_port}",
                client_id=c.client_id,
                shared_group=c.shared_group,
                metrics_port=self.metrics_port,
            )
            return self._work(writer, stop)
        finally:
            self._stopping.set()
            self._client.disconnect()
            self._client.loop_stop()
            pool.close()
            if server is not None:
                server.shutdown()
                server.server_close()
            log.info("ingester stopped")

    def _new_batch(self) -> Batch:
        return Batch(self.config.topic_root, self._rules, self.config.max_payload_bytes)

    def _work(self, writer: Writer, stop: threading.Event) -> bool:
        """Take messages into batches; each batch is decoded and validated here while the
        previous ones are written, committed and acknowledged by the committer threads."""
        committers = self.config.committers
        with ThreadPoolExecutor(committers, thread_name_prefix="ingest-commit") as committer:
            return self._batches(writer, stop, committer)

    def _batches(
        self, writer: Writer, stop: threading.Event, committer: ThreadPoolExecutor
    ) -> bool:
        c = self.config
        # The batches being committed and the one being filled must fit in the Receive
        # Maximum, or the broker would stop sending while the commits run.
        max_messages = max(1, c.receive_maximum // (c.committers + 1))
        batch = self._new_batch()
        deadline = 0.0
        pending: deque[tuple[Future[bool], int]] = deque()  # batches being committed, points
        while True:
            stopping = stop.is_set()
            timeout = 0.05 if not batch.messages else max(0.0, deadline - time.monotonic())
            try:
                message = self._queue.get(timeout=min(timeout, 0.05))
            except queue.Empty:
                message = None
            while message is not None:
                if not batch.messages:
                    deadline = time.monotonic() + c.flush_interval_s
                batch.add(message)
                if batch.points >= c.batch_points or len(batch) >= max_messages:
                    break
                try:
                    message = self._queue.get_nowait()
                except queue.Empty:
                    message = None
            committing = sum(points for future, points in pending if not future.done())
            self.metrics.buffered.set(batch.points + committing)
            self.metrics.queued.set(self._queue.qsize())
            full = batch.points >= c.batch_points or len(batch) >= max_messages
            if batch.messages and (full or stopping or time.monotonic() >= deadline):
                if stopping and not self._queue.empty() and not full:
                    continue  # take everything already received into the final flush
                built_at = time.perf_counter()
                write_set = batch.build()  # while the previous batch commits
                build_s = time.perf_counter() - built_at
                while len(pending) >= c.committers or (pending and pending[0][0].done()):
                    if not pending.popleft()[0].result():
                        return False
                future = committer.submit(self._commit, writer, batch, write_set, build_s, stop)
                pending.append((future, batch.points))
                batch = self._new_batch()
            elif stopping and not batch.messages and self._queue.empty():
                return all([future.result() for future, _ in pending])

    def _commit(
        self,
        writer: Writer,
        batch: Batch,
        write_set: WriteSet,
        build_s: float,
        stop: threading.Event,
    ) -> bool:
        """Write the batch (retrying through outages), then acknowledge its messages."""
        result = self._write(writer, write_set, batch.messages, stop)
        if result is None:
            log.error(
                "stopping with uncommitted messages; the broker will redeliver them",
                messages=len(batch.messages),
            )
            return False
        for message in batch.messages:
            if message.generation == self._generation:
                self._client.ack(message.mid, message.qos)
        self._account(write_set, result, batch, build_s)
        return True

    def _write(
        self, writer: Writer, ws: WriteSet, messages: list[Message], stop: threading.Event
    ) -> WriteResult | None:
        delay = self.config.retry_min_s
        give_up_at: float | None = None
        one_by_one = False
        while True:
            try:
                if one_by_one:
                    return self._write_one_by_one(writer, messages)
                return writer.write(ws)
            except _DATA_ERRORS as exc:
                log.warning(
                    "database refused a batch; writing it message by message", error=str(exc)
                )
                one_by_one = True
                continue
            except psycopg.Error as exc:
                self.metrics.db_retries.inc()
                log.warning(
                    "database write failed; retrying", error=str(exc).strip(), retry_in_s=delay
                )
            if stop.is_set():
                give_up_at = give_up_at or time.monotonic() + self.config.stop_timeout_s
                if time.monotonic() >= give_up_at:
                    return None
            time.sleep(delay * random.uniform(0.8, 1.2))  # jitter
            delay = min(delay * 2, self.config.retry_max_s)

    def _write_one_by_one(self, writer: Writer, messages: list[Message]) -> WriteResult:
        """Each message in its own transaction; one the database refuses is dead-lettered."""
        results: list[WriteResult] = []
        for message in messages:
            single = self._new_batch()
            single.add(message)
            ws = single.build()
            try:
                results.append(writer.write(ws))
            except _DATA_ERRORS as exc:
                detail = f"{type(exc).__name__}: {str(exc).strip()}"[:500]
                dead = DeadLetter(
                    message.topic,
                    message.payload,
                    Reason.DB_REJECTED,
                    detail,
                    dt.datetime.fromtimestamp(message.received_at, dt.UTC),
                    points=int(message.topic.endswith("/telemetry")),
                )
                results.append(writer.write(WriteSet(dead_letters=[dead])))
        return WriteResult(
            stored=sum(r.stored for r in results),
            duplicates=sum(r.duplicates for r in results),
            events_stored=sum(r.events_stored for r in results),
            events_duplicate=sum(r.events_duplicate for r in results),
            commit_seconds=sum(r.commit_seconds for r in results),
            committed_at=time.time(),
            dead_letters=[d for r in results for d in r.dead_letters],
            repeated_dead_letters=[d for r in results for d in r.repeated_dead_letters],
            slow_path=True,
        )

    def _account(self, ws: WriteSet, result: WriteResult, batch: Batch, build_s: float) -> None:
        m = self.metrics
        for name, count in ws.message_results.items():
            m.messages.labels(name).inc(count)
        # A dead letter already stored (redelivered after a crash between commit and ack, or
        # the same bad bytes sent again) is a duplicate, not a new dead letter.
        repeated_points = sum(d.points for d in result.repeated_dead_letters)
        m.points.labels("stored").inc(result.stored)
        m.points.labels("duplicate").inc(result.duplicates + repeated_points)
        m.points.labels("dead_letter").inc(sum(d.points for d in result.dead_letters))
        m.events.labels("stored").inc(result.events_stored)
        m.events.labels("duplicate").inc(result.events_duplicate)
        for d in result.dead_letters:
            m.dead_letters.labels(str(d.reason)).inc()
        for d in result.repeated_dead_letters:
            m.dead_letters_repeated.labels(str(d.reason)).inc()
        m.commit_seconds.observe(result.commit_seconds)
        if len(ws.points):
            m.lag.observe_many(result.committed_at - ws.points["ts_ms"] / 1000.0)
        log.info(
            "batch committed",
            messages=len(batch.messages),
            stored=result.stored,
            duplicates=result.duplicates,
            dead_letters=len(result.dead_letters),
            repeated_dead_letters=len(result.repeated_dead_letters),
            slow_path=result.slow_path,
            events=result.events_stored,
            build_ms=round(build_s * 1000, 2),
            commit_ms=round(result.commit_seconds * 1000, 2),
            age_ms=round((result.committed_at - batch.messages[0].received_at) * 1000, 1),
            queued=self._queue.qsize(),
        )
