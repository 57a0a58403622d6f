#!/usr/bin/env python3
"""A client as the original system's PS were written: pyzmq, one REQ socket, one
JSON object per message, a reply read before the next request.

    python3 cliente_req.py tcp://127.0.0.1:5555 < mensajes.json

stdin: a JSON array of request objects, sent exactly as given (None stays null).
stdout: one JSON line per reply, in order. Exit 2 if a reply does not come
within the timeout (REQ cannot go on after that), 1 on any other failure.
"""
import json
import sys

import zmq

TIMEOUT_MS = 10_000


def main() -> int:
    endpoint = sys.argv[1]
    mensajes = json.load(sys.stdin)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    sock.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
    sock.connect(endpoint)
    try:
        for m in mensajes:
            sock.send_string(json.dumps(m))
            try:
                respuesta = sock.recv_string()
            except zmq.Again:
                print(json.dumps({"error": "sin respuesta", "solicitud": m}), flush=True)
                return 2
            print(json.dumps(json.loads(respuesta)), flush=True)
    finally:
        sock.close(0)
        ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
