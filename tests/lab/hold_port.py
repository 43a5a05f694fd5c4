"""``python -m tests.lab.hold_port PORT``: hold UDP PORT open (another server) until killed."""

import signal
import socket
import sys

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", int(sys.argv[1])))
print("holding", flush=True)
signal.pause()
