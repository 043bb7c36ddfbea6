"""``python -m lanser.scoring.process RECV_FD SEND_FD``: a worker process's entry point.

Apart from :mod:`lanser.scoring.worker` so that ``-m`` runs a module the package has
not imported yet (runpy warns, and would run a second copy, otherwise).
"""

from __future__ import annotations

from lanser.scoring.worker import serve


def main(argv: list[str]) -> None:
    """Read the config, then serve (started by :class:`~lanser.scoring.executor.LocalExecutor`)."""
    from multiprocessing.connection import Connection

    recv = Connection(int(argv[0]), writable=False)
    send = Connection(int(argv[1]), readable=False)
    try:
        config = recv.recv()
    except EOFError:
        return
    serve(recv, send, config)



if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
