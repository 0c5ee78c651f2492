#!/usr/bin/env python3
"""Time from starting the Lambda `bootstrap` to its first Runtime API poll.

A Lambda's init phase ends when the runtime asks for its first event
(GET /2018-06-01/runtime/invocation/next). This script plays the Runtime API on
a free loopback port, starts the binary the way Lambda does (AWS_LAMBDA_RUNTIME_API
and the usual environment), records when the first poll arrives, then stops the
process. It repeats that and prints the median and spread.

    python3 scripts/measure-init.py target/release/bootstrap [runs]

Nothing here talks to AWS: the credentials are dummies and no event is served.
"""

import http.server
import os
import statistics
import subprocess
import sys
import threading
import time


class FirstPoll(http.server.BaseHTTPRequestHandler):
    polled_at = None
    event = threading.Event()

    def do_GET(self):
        if self.path.startswith("/2018-06-01/runtime/invocation/next") and not FirstPoll.event.is_set():
            FirstPoll.polled_at = time.perf_counter()
            FirstPoll.event.set()
        # Hold the poll open like Lambda does while there is no event; the process is killed.
        time.sleep(5)

    def log_message(self, *args):
        pass


def one_run(binary):
    FirstPoll.polled_at = None
    FirstPoll.event.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FirstPoll)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "quiz",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/quiz",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "USER_TABLE": "User",
        "CHAT_TABLE": "Chat",
        "GAME_TABLE": "Game",
    }
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    polled = FirstPoll.event.wait(timeout=10)
    process.kill()
    _, stderr = process.communicate()
    server.shutdown()
    server.server_close()
    if not polled:
        sys.exit(f"bootstrap never polled the Runtime API; it said:\n{stderr.decode(errors='replace')}")
    return (FirstPoll.polled_at - started) * 1000.0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    one_run(binary)  # warm the page cache, as a reused Lambda worker would be
    times = sorted(one_run(binary) for _ in range(runs))
    print(
        f"{binary}: process start to first Runtime API poll over {runs} runs: "
        f"median {statistics.median(times):.1f} ms, min {times[0]:.1f} ms, max {times[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
