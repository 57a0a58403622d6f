"""Locust load test for the library's GC, the way the original system's load test
drove it: each Locust user is one PS with its own REQ socket, sending
{"operacion", "isbn", "usuario", "id"} with a unique id per request and waiting
for each reply (closed loop).

    locust -f solicitante/locustfile.py --headless -u 10 -r 10 -t 30s --host tcp://127.0.0.1:5555

Debian: apt-get install python3-zmq python3-locust (Locust 2.12; pyzmq's zmq.green
keeps gevent's users from blocking each other). Without --headless the web UI
(http://localhost:8089) takes the same host. Environment:

  BIBLIOTECA_ISBNS      comma-separated books to use (default: the demo catalog's)
  BIBLIOTECA_TIMEOUT_MS per-request wait for a reply (default 5000)

Each user repeats préstamo → renovación → devolución on one book with a fresh
usuario per cycle, so its own earlier loans never get in the way; a cycle whose
préstamo is refused ends there, and a loan the end of the run cut short is
returned when the user stops (not reported), so runs do not drain the stock. Every reply with "exito": false counts as a
Locust failure named by its code (SIN_EJEMPLARES: more users than free copies),
and so does no reply at all (NO_RESPONDE). The requests carry no "clave": like
the original clients', each one is a new operation.
"""
import csv
import json
import os
import random
import time
import uuid
from pathlib import Path

import gevent
import zmq.green as zmq
from locust import User, constant, task


def _isbns():
    env = os.environ.get("BIBLIOTECA_ISBNS", "").strip()
    if env:
        return [i.strip() for i in env.split(",") if i.strip()]
    demo = Path(__file__).resolve().parent.parent / "gestor_almacenamiento" / "catalogo-demo.csv"
    with demo.open(encoding="utf-8") as f:
        return [row["isbn"] for row in csv.DictReader(f)]


ISBNS = _isbns()
TIMEOUT_MS = int(os.environ.get("BIBLIOTECA_TIMEOUT_MS", "5000"))


class GcFailure(Exception):
    """A reply with exito false (its code is the message) or no reply at all."""


class GcClient:
    """One REQ socket to the GC. A REQ socket whose reply timed out cannot send
    again, so it is closed and a new one made (ZeroMQ's Lazy Pirate)."""

    def __init__(self, endpoint, environment):
        self.endpoint = endpoint
        self.environment = environment
        self.ctx = zmq.Context.instance()
        self.sock = None

    def _socket(self):
        if self.sock is None:
            self.sock = self.ctx.socket(zmq.REQ)
            self.sock.setsockopt(zmq.LINGER, 0)
            self.sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
            self.sock.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
            self.sock.connect(self.endpoint)
        return self.sock

    def close(self):
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None

    def exchange(self, operacion, isbn, usuario):
        """One request and its reply (raises zmq.Again when none comes in time)."""
        mensaje = {"operacion": operacion, "isbn": isbn, "usuario": usuario, "id": str(uuid.uuid4())}
        sock = self._socket()
        try:
            sock.send_string(json.dumps(mensaje))
            return sock.recv_string()
        except BaseException:
            # Timed out, or the user was stopped while waiting: this socket is mid-exchange.
            self.close()
            raise

    def send(self, operacion, isbn, usuario):
        """Sends one request; reports it to Locust; returns the reply (None if none came)."""
        inicio = time.perf_counter()
        respuesta, largo, fallo = None, 0, None
        try:
            cuerpo = self.exchange(operacion, isbn, usuario)
            largo = len(cuerpo)
            respuesta = json.loads(cuerpo)
            if not respuesta.get("exito"):
                fallo = GcFailure(respuesta.get("codigo", "SIN_CODIGO"))
        except zmq.Again:
            fallo = GcFailure("NO_RESPONDE")
        except ValueError:
            fallo = GcFailure("RESPUESTA_ILEGIBLE")
        self.environment.events.request.fire(
            request_type="ZMQ",
            name=operacion,
            response_time=(time.perf_counter() - inicio) * 1000,
            response_length=largo,
            exception=fallo,
            context={},
        )
        return respuesta


class LectorBiblioteca(User):
    """A PS in a closed loop: no think time, like the original load test."""

    wait_time = constant(0)
    host = os.environ.get("GC_ENDPOINT", "tcp://127.0.0.1:5555")

    def on_start(self):
        self.client = GcClient(self.host, self.environment)
        self.isbn = random.choice(ISBNS)
        self.nombre = f"locust-{uuid.uuid4().hex[:8]}"
        self.ciclo = 0
        # The usuario whose loan this user holds right now (until its devolución is answered).
        self.abierto = None

    def on_stop(self):
        if self.abierto is not None:
            # Stopped mid-cycle, perhaps with its préstamo still on its way to being applied:
            # "no loan" may only mean "not yet", so ask again a few times.
            for _ in range(10):
                try:
                    respuesta = json.loads(self.client.exchange("devolucion", self.isbn, self.abierto))
                except Exception:
                    break  # best effort: the run is over
                if respuesta.get("codigo") != "PRESTAMO_NO_ENCONTRADO":
                    break
                gevent.sleep(0.2)
        self.client.close()

    @task
    def prestamo_renovacion_devolucion(self):
        self.ciclo += 1
        usuario = f"{self.nombre}-{self.ciclo}"
        # Before the préstamo is sent: a stop while it is in flight must still return it.
        self.abierto = usuario
        prestamo = self.client.send("prestamo", self.isbn, usuario)
        if not (prestamo and prestamo.get("exito")):
            self.abierto = None
            return
        self.client.send("renovacion", self.isbn, usuario)
        devolucion = self.client.send("devolucion", self.isbn, usuario)
        if devolucion and devolucion.get("exito"):
            self.abierto = None
