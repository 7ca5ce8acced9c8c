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
import hashlib
import queue
import random
import ssl
import sys
import threading
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

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

from fleet.devices import active_vehicles
from ingest.batch import Batch, DeadLetter, Message, WriteSet
from ingest.config import IngestConfig
from ingest.errors import Reason
from ingest.metrics import IngestMetrics
from ingest.registry import Registry
from ingest.summary import Summary
from ingest.validation import Rules
from ingest.writer import Writer, WriteResult, prepare_connection
from wire.topics import subscription

__all__ = ["Ingester"]

log = structlog.get_logger("ingest")

# Errors of the data itself: the batch is retried message by message and the message the
# database refuses is dead-lettered. Every other database error is retried with backoff.
_DATA_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError)
# MQTT 5 DISCONNECT reason: another client connected with this client id. Brokers that do
# not say so (Mosquitto 2.0.11 only closes the old connection) show it as a connection
# closed moments after it was accepted; two clients with one id keep doing that to each
# other. A connection the broker closes within this time counts as taken over.
_SESSION_TAKEN_OVER = 0x8E
_TAKEOVER_WITHIN_S = 5.0
# A shared-subscription member that stops: after its UNSUBACK the broker still sends what it
# had queued for the member's session; the member has drained it once nothing has arrived
# for this long since its last acknowledgement.
_DRAIN_QUIET_S = 1.0
_UNSUBSCRIBE_TIMEOUT_S = 5.0


def _internal_detail(stage: str, exc: BaseException) -> str:
    """The detail of an ``internal_error`` dead letter: where, and the exception's type."""
    text = _printable(str(exc))
    return f"{stage} raised {type(exc).__qualname__}: {text}"[:500]


def _printable(text: str) -> str:
    """``text`` as PostgreSQL ``text`` can always hold it (no NUL, no lone surrogate)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _received(message: Message) -> dt.datetime:
    return dt.datetime.fromtimestamp(message.received_at, dt.UTC)


def _is_telemetry(message: Message) -> bool:
    return not message.topic.endswith(("/events", "/status"))


def _internal_error(message: Message, stage: str, exc: BaseException) -> WriteSet:
    """What one message that made the ingester fail unforeseeably writes: its dead letter."""
    points = int(_is_telemetry(message))
    dead = DeadLetter(
        message.topic,
        message.payload,
        Reason.INTERNAL_ERROR,
        _internal_detail(stage, exc),
        _received(message),
        points=points,
    )
    return WriteSet(
        dead_letters=[dead], message_results=Counter(rejected=1), rejected_points=points
    )


class Ingester:
    """MQTT to the database for one client id.

    ``run(stop)`` blocks until ``stop`` is set, then flushes, acknowledges, disconnects and
    returns True (False if the database stayed unreachable for ``stop_timeout_s`` while
    stopping: what was not committed is not acknowledged, so the broker keeps it).
    ``ready`` is set once the broker has acknowledged the subscription; ``metrics_port`` is
    the port actually served.
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
        self._closing = threading.Event()  # stop requested: take in no new subscription
        self._unsubscribed = threading.Event()
        self._unsubscribe_by = 0.0
        self._last_traffic = time.monotonic()  # last message received or acknowledged
        self._connected_at = 0.0
        self._rules = Rules(config.max_future_s, config.max_age_days)
        self._registry: Registry | None = None
        self._client = self._make_client()
        self._topic = subscription(config.topic_root, config.shared_group)
        # Read at scrape time, so both move while the worker waits on a blocked database.
        self._filling_points = 0
        self._committing_points = 0
        self._committing_lock = threading.Lock()
        self._summary = Summary()
        self.metrics.queued.set_function(self._queue.qsize)
        self.metrics.buffered.set_function(lambda: self._filling_points + self._committing_points)

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
            client.tls_set(
                ca_certs=c.mqtt_ca_file,
                certfile=c.mqtt_cert_file,
                keyfile=c.mqtt_key_file,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.reconnect_delay_set(1, 8)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_unsubscribe = self._on_unsubscribe
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        # paho calls this inside the ``except OSError`` of its connection attempt, without the
        # exception: it is the one being handled.
        error = sys.exc_info()[1]
        self.metrics.connected.set(0)
        self.metrics.connect_failures.inc()
        log.warning(
            "broker connection failed; retrying",
            broker=f"{self.config.mqtt_host}:{self.config.mqtt_port}",
            reason=f"{type(error).__name__}: {error}" if error else "unknown",
        )

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._connected_at = 0.0
            self.metrics.connected.set(0)
            self.metrics.connect_failures.inc()
            log.error(
                "broker refused the connection; retrying",
                broker=f"{self.config.mqtt_host}:{self.config.mqtt_port}",
                reason=str(reason_code),
            )
            return
        self._generation += 1
        self._connected_at = time.monotonic()
        # Subscribing on every connect keeps the subscription through broker restarts that
        # lost the session; retain_handling=1 avoids a resend of retained status when the
        # session kept it. A shared member that is stopping leaves the group instead.
        if self._closing.is_set() and self.config.shared_group is not None:
            client.unsubscribe(self._topic)
        else:
            options = SubscribeOptions(qos=1, retainHandling=1)
            client.subscribe(self._topic, options=options)
        self.metrics.connected.set(1)
        log.info(
            "connected",
            session_present=flags.session_present,
            subscription=self._topic,
            generation=self._generation,
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.metrics.connected.set(0)
        if self._stopping.is_set():
            return
        lasted = time.monotonic() - self._connected_at
        self._connected_at = 0.0  # each connection is judged once
        said = reason_code.value == _SESSION_TAKEN_OVER
        if said or (
            flags.is_disconnect_packet_from_server is False and lasted < _TAKEOVER_WITHIN_S
        ):
            self.metrics.session_takeovers.inc()
            log.error(
                "session taken over by another client with the same client id; reconnecting "
                "(give every ingester its own POGO_MQTT_CLIENT_ID)",
                client_id=self.config.client_id,
                reason=str(reason_code),
                said_by_broker=said,
                connected_for_s=round(lasted, 2),
            )
        else:
            log.warning("disconnected; reconnecting", reason=str(reason_code))

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        # Ready once the broker has the subscription (SUBACK), not when it was sent: a message
        # published in between would match no subscription.
        self.ready.set()

    def _on_unsubscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._unsubscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._last_traffic = time.monotonic()
        if self._closing.is_set() and self.config.shared_group is None:
            # Stopping, and the session stays: not acknowledged, the broker redelivers it to
            # this session on the next start. (A shared member takes everything in: what it
            # left unacknowledged would wait in its session for its return.)
            return
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
            assert c.rider_key is not None  # IngestConfig refuses None
            writer = Writer(pool, c.rider_key, connection_timeout_s=2.0)
            if c.require_registered and not self._load_registry(pool, stop):
                return True  # stopped before anything was taken in
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

    def _load_registry(self, pool: ConnectionPool, stop: threading.Event) -> bool:
        """Read the device registry before consuming (retrying while the database is away)."""

        def load() -> frozenset[tuple[str, str]]:
            with pool.connection(timeout=5.0) as conn:
                return active_vehicles(conn)

        self._registry = Registry(load, refresh_s=self.config.registry_refresh_s)
        return self._registry.load_initial(stop)

    def _new_batch(self) -> Batch:
        admit = self._registry.admits if self._registry is not None else None
        return Batch(
            self.config.topic_root, self._rules, self.config.max_payload_bytes, admit=admit
        )

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
        filling = _Filling(self._new_batch())
        deadline = 0.0
        pending: deque[Future[bool]] = deque()  # batches being committed
        while True:
            stopping = stop.is_set()
            if stopping and not self._closing.is_set():
                self._close()
            timeout = 0.05 if not filling.messages else max(0.0, deadline - time.monotonic())
            try:
                message = self._queue.get(timeout=min(timeout, 0.05))
            except queue.Empty:
                message = None
            while message is not None:
                if not filling.messages:
                    deadline = time.monotonic() + c.flush_interval_s
                self._take(filling, message)
                if filling.full(c.batch_points, max_messages):
                    break
                try:
                    message = self._queue.get_nowait()
                except queue.Empty:
                    message = None
            self._filling_points = filling.points
            full = filling.full(c.batch_points, max_messages)
            if filling.messages and (full or stopping or time.monotonic() >= deadline):
                if stopping and not self._queue.empty() and not full:
                    continue  # take everything already received into the final flush
                built_at = time.perf_counter()
                write_set = self._build(filling)  # while the previous batch commits
                build_s = time.perf_counter() - built_at
                while len(pending) >= c.committers or (pending and pending[0].done()):
                    if not pending.popleft().result():
                        return False
                points = filling.points
                with self._committing_lock:
                    self._committing_points += points
                    self._filling_points = 0
                future = committer.submit(
                    self._commit, writer, filling.messages, write_set, points, build_s, stop
                )
                pending.append(future)
                filling = _Filling(self._new_batch())
            elif (
                stopping and not filling.messages and self._queue.empty() and self._drained(pending)
            ):
                return all([future.result() for future in pending])

    # -- stopping -------------------------------------------------------------------------

    def _close(self) -> None:
        """Stop requested. A shared-subscription member leaves the group first: the broker
        gives a member's share to its session whether or not the member is connected, so a
        member that stopped still subscribed would strand its share until it came back."""
        self._closing.set()
        if self.config.shared_group is None:
            return  # the session and its subscription stay: the broker queues for the return
        self._unsubscribe_by = time.monotonic() + _UNSUBSCRIBE_TIMEOUT_S
        result, _ = self._client.unsubscribe(self._topic)
        log.info(
            "stopping: leaving the shared subscription, then committing what the broker still "
            "sends",
            subscription=self._topic,
            sent=result == mqtt.MQTT_ERR_SUCCESS,
        )

    def _drained(self, pending: deque[Future[bool]]) -> bool:
        """Whether a stopping ingester has everything: a shared member once the broker has
        confirmed the unsubscription and sent nothing more for ``_DRAIN_QUIET_S`` after the
        last acknowledgement (what it had queued for the session keeps coming until then)."""
        if self.config.shared_group is None:
            return True
        if not all(future.done() for future in pending):
            return False
        now = time.monotonic()
        if not self._unsubscribed.is_set():
            if now < self._unsubscribe_by:
                return False
            log.warning(
                "the broker did not confirm leaving the shared subscription; the session keeps "
                "it, and messages the broker gives it wait until this client id connects again",
                client_id=self.config.client_id,
            )
            self._unsubscribed.set()
        return now - self._last_traffic >= _DRAIN_QUIET_S

    # -- decoding, guarded ----------------------------------------------------------------

    def _take(self, filling: _Filling, message: Message) -> None:
        """Add ``message`` to the batch being filled. Should decoding raise (a bug: the
        decoders raise nothing for anything a message carries), the batch is salvaged
        message by message when it is built."""
        filling.messages.append(message)
        if filling.failure is not None:
            return
        try:
            filling.batch.add(message)
        except Exception as exc:  # noqa: BLE001 - the whole-message guard
            filling.failure = exc
            self._unforeseen("decoding a message", message, exc)

    def _build(self, filling: _Filling) -> WriteSet | None:
        """The batch's :class:`WriteSet`; None when even the salvaged batch cannot be built
        together (its messages are then written one by one)."""
        if filling.failure is None:
            try:
                return filling.batch.build()
            except Exception as exc:  # noqa: BLE001 - the whole-message guard
                self._unforeseen("building a batch", None, exc)
        return self._salvage(filling.messages)

    def _salvage(self, messages: list[Message]) -> WriteSet | None:
        """Each message decoded alone; those that raise become ``internal_error`` dead
        letters, the others are decoded together again."""
        good: list[Message] = []
        failed: list[WriteSet] = []
        for message in messages:
            ws, ok = self._build_one(message)
            if ok:
                good.append(message)
            else:
                failed.append(ws)
        batch = self._new_batch()
        try:
            for message in good:
                batch.add(message)
            out = batch.build()
        except Exception as exc:  # noqa: BLE001 - the whole-message guard
            self._unforeseen("building a salvaged batch", None, exc)
            return None
        for ws in failed:
            out.dead_letters.extend(ws.dead_letters)
            out.message_results.update(ws.message_results)
            out.rejected_points += ws.rejected_points
        return out

    def _build_one(self, message: Message) -> tuple[WriteSet, bool]:
        """One message's :class:`WriteSet`, and False if decoding raised (its write set is
        then the message's ``internal_error`` dead letter)."""
        single = self._new_batch()
        try:
            single.add(message)
            return single.build(), True
        except Exception as exc:  # noqa: BLE001 - the whole-message guard
            self._unforeseen("decoding a message", message, exc)
            return _internal_error(message, "decoding", exc), False

    @staticmethod
    def _unforeseen(stage: str, message: Message | None, exc: BaseException) -> None:
        log.error(
            f"{stage} raised an unforeseen error; the message is dead-lettered as "
            "internal_error and the ingester goes on",
            error=_internal_detail(stage, exc),
            topic=_printable(message.topic)[:200] if message else None,
        )
        log.debug("unforeseen error", exc_info=exc)

    # -- committing -----------------------------------------------------------------------

    def _commit(
        self,
        writer: Writer,
        messages: list[Message],
        write_set: WriteSet | None,
        points: int,
        build_s: float,
        stop: threading.Event,
    ) -> bool:
        """Write the batch (retrying through outages), then acknowledge its messages."""
        try:
            written = self._write(writer, write_set, messages, stop)
            if written is None:
                log.error(
                    "stopping with uncommitted messages; the broker will redeliver them",
                    messages=len(messages),
                )
                return False
            for message in messages:
                if message.generation == self._generation:
                    self._client.ack(message.mid, message.qos)
            self._last_traffic = time.monotonic()
            result, message_results = written
            try:
                self._account(write_set, result, message_results, messages, build_s)
            except Exception as exc:  # noqa: BLE001 - the batch is committed and acknowledged; go on
                self._unforeseen("accounting a batch", None, exc)
            return True
        finally:
            with self._committing_lock:
                self._committing_points -= points

    def _write(
        self, writer: Writer, ws: WriteSet | None, messages: list[Message], stop: threading.Event
    ) -> tuple[WriteResult, Counter[str] | None] | None:
        """``(result, message results)`` once committed (the message results only when they
        differ from the write set's), or None when stopped before the database came back."""
        delay = self.config.retry_min_s
        give_up_at: float | None = None
        one_by_one = ws is None
        while True:
            try:
                if one_by_one or ws is None:
                    return self._write_one_by_one(writer, messages)
                return writer.write(ws), None
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
            except Exception as exc:  # noqa: BLE001 - the whole-message guard
                self._unforeseen("writing a batch", None, exc)
                if not one_by_one:
                    one_by_one = True
                    continue
                # _write_one_by_one guards each message: past that, retry like an outage.
            if stop.is_set():
                give_up_at = give_up_at or time.monotonic() + self.config.stop_timeout_s
                if time.monotonic() >= give_up_at:
                    return None
            time.sleep(delay * random.uniform(0.8, 1.2))  # jitter
            delay = min(delay * 2, self.config.retry_max_s)

    def _write_one_by_one(
        self, writer: Writer, messages: list[Message]
    ) -> tuple[WriteResult, Counter[str]]:
        """Each message in its own transaction; one the database refuses (or whose writing
        fails unforeseeably) is dead-lettered whole. Only database outages are raised."""
        results: list[WriteResult] = []
        message_results: Counter[str] = Counter()
        for message in messages:
            ws, _ = self._build_one(message)
            try:
                results.append(writer.write(ws))
                message_results.update(ws.message_results)
                continue
            except _DATA_ERRORS as exc:
                reason = Reason.DB_REJECTED
                detail = _printable(f"{type(exc).__name__}: {str(exc).strip()}")[:500]
            except psycopg.Error:
                raise  # an outage: the whole batch again, after a backoff
            except Exception as exc:  # noqa: BLE001 - the whole-message guard
                self._unforeseen("writing a message", message, exc)
                reason, detail = Reason.INTERNAL_ERROR, _internal_detail("writing", exc)
            points = len(ws.points) + sum(d.points for d in ws.dead_letters)
            if not _is_telemetry(message):
                points = 0
            results.append(self._write_dead_letter(writer, message, reason, detail, points))
            message_results["rejected"] += 1
        result = WriteResult(
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
        return result, message_results

    def _write_dead_letter(
        self, writer: Writer, message: Message, reason: Reason, detail: str, points: int
    ) -> WriteResult:
        """Write one dead letter; never raises but for a database outage, and never loops.

        Should the database refuse the row, its text fields are made printable and it is
        written once more; refused again, the message is logged with its digest, counted in
        ``pogo_ingest_unwritable_messages_total`` and acknowledged (a redelivery would fail
        the same way forever)."""
        received = _received(message)
        rows = [
            DeadLetter(message.topic, message.payload, reason, detail, received, points),
            DeadLetter(
                _printable(message.topic),
                message.payload,
                reason,
                _printable(detail),
                received,
                points,
            ),
        ]
        for row in rows:
            try:
                return writer.write(WriteSet(dead_letters=[row]))
            except _DATA_ERRORS:
                continue
            except psycopg.Error:
                raise
            except Exception as exc:  # noqa: BLE001 - the whole-message guard
                self._unforeseen("writing a dead letter", message, exc)
        self.metrics.unwritable.inc()
        log.error(
            "the database refused a message even as a dead letter; acknowledged and dropped",
            topic=_printable(message.topic)[:200],
            reason=str(reason),
            detail=detail,
            payload_bytes=len(message.payload),
            payload_sha256=hashlib.sha256(message.payload).hexdigest(),
        )
        return WriteResult(0, 0, 0, 0, 0.0, time.time())

    def _account(
        self,
        ws: WriteSet | None,
        result: WriteResult,
        message_results: Counter[str] | None,
        messages: list[Message],
        build_s: float,
    ) -> None:
        m = self.metrics
        if message_results is None:
            message_results = ws.message_results if ws is not None else Counter()
        for name, count in message_results.items():
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
        if ws is not None and len(ws.points) and not result.slow_path:
            m.lag.observe_many(result.committed_at - ws.points["ts_ms"] / 1000.0)
        log.debug(
            "batch committed",
            messages=len(messages),
            stored=result.stored,
            duplicates=result.duplicates,
            dead_letters=len(result.dead_letters),
            repeated_dead_letters=len(result.repeated_dead_letters),
            slow_path=result.slow_path,
            events=result.events_stored,
            build_ms=round(build_s * 1000, 2),
            commit_ms=round(result.commit_seconds * 1000, 2),
            age_ms=round((result.committed_at - messages[0].received_at) * 1000, 1),
            queued=self._queue.qsize(),
        )
        due = self._summary.add(
            messages=len(messages),
            stored=result.stored,
            duplicates=result.duplicates + repeated_points,
            dead_letters=len(result.dead_letters),
            events=result.events_stored,
            commit_ms=result.commit_seconds * 1000,
        )
        if due is not None:
            totals, over_s = due
            log.info(
                "ingest summary",
                over_s=round(over_s),
                batches=totals.batches,
                messages=totals.messages,
                stored=totals.stored,
                duplicates=totals.duplicates,
                dead_letters=totals.dead_letters,
                events=totals.events,
                slowest_commit_ms=round(totals.slowest_commit_ms, 1),
                queued=self._queue.qsize(),
            )


@dataclass
class _Filling:
    """The batch being filled, the messages taken into it, and the error that made the
    batch unusable, if one did."""

    batch: Batch
    messages: list[Message] = field(default_factory=list)
    failure: BaseException | None = None

    @property
    def points(self) -> int:
        return self.batch.points

    def full(self, batch_points: int, max_messages: int) -> bool:
        return self.points >= batch_points or len(self.messages) >= max_messages
