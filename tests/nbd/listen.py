#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# listen.py PORTFILE CMD ARGS...: a TCP socket on 127.0.0.1 with a port the
# kernel picks, handed to CMD (nbdkit) by socket activation (LISTEN_FDS=1,
# fd 3, LISTEN_PID = this pid, which CMD keeps: exec).  The port is written
# to PORTFILE (atomically) before CMD starts; clients that connect early
# wait in the listen queue until CMD accepts.
import os
import socket
import sys

portfile, argv = sys.argv[1], sys.argv[2:]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen(64)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(portfile + ".tmp", portfile)
fd = s.detach()
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ.pop("LISTEN_FDNAMES", None)
os.execvp(argv[0], argv)
