"""Benchmark: full and incremental sync of a large book against the sandbox.

    .venv/bin/python scripts/bench_sync.py --accounts 10000 --latency-ms 20

Real rate limits are on (HubSpot 100 requests / 10 s, Stripe 25 / s; Salesforce has no
per-second limit) and every request gets ``--latency-ms`` added. Reported per source:

- calls, and the minimum: Σ over streams of ceil(records read / the endpoint's max page
  size) — plus, for HubSpot, one association read per deals/tickets page, which no
  endpoint avoids (search cannot return associations);
- wall seconds, and the floor the rate limits set: a sliding window of N calls per P
  seconds needs at least (ceil(calls / N) − 1) · P seconds;
- records per second;
- then 1% of accounts are changed in each vendor and an incremental sync's calls are
  compared with the full sync's.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.sandbox.app import Sandbox  # noqa: E402
from connectors.sandbox.book import generate_book  # noqa: E402
from connectors.sandbox.faults import FaultConfig  # noqa: E402
from connectors.sync import TrustedSession, sync_sources  # noqa: E402
from engine.store import Store  # noqa: E402

PAGE_MAX = {"salesforce": 2000, "hubspot": 200, "stripe": 100}
WINDOWS = {"hubspot": (100, 10.0), "stripe": (25, 1.0)}
ASSOCIATED = {"deals", "tickets"}


def minimum_calls(source: str, result) -> int:
    pages = sum(max(1, math.ceil(st.read / PAGE_MAX[source])) for name, st in result.streams.items()
                if not (source == "stripe" and name != "events" and st.pages == 0))
    if source == "salesforce":
        pages += 1  # login
    if source == "hubspot":
        pages += sum(math.ceil(st.read / PAGE_MAX[source]) for n, st in result.streams.items() if n in ASSOCIATED)
    return pages


def floor_seconds(source: str, calls: int) -> float:
    if source not in WINDOWS:
        return 0.0
    n, period = WINDOWS[source]
    return max(0, math.ceil(calls / n) - 1) * period


def report(title: str, rep, stats: dict, latency: float) -> dict[str, int]:
    print(f"\n== {title}")
    print(f"{'source':<11}{'calls':>7}{'minimum':>9}{'over':>8}{'seconds':>9}{'rl floor':>10}"
          f"{'+latency':>10}{'records':>9}{'rec/s':>8}")
    calls = {}
    for name, res in rep.sources.items():
        used = stats[name]["total"]
        calls[name] = used
        records = sum(st.read for st in res.streams.values())
        low = minimum_calls(name, res)
        floor = floor_seconds(name, used)
        with_latency = max(floor, used * latency / 1000)
        print(f"{name:<11}{used:>7}{low:>9}{(used / low - 1) * 100:>7.1f}%{res.seconds:>9.1f}{floor:>10.1f}"
              f"{with_latency:>10.1f}{records:>9}{records / max(res.seconds, 1e-9):>8.0f}")
        if not res.ok:
            print(f"   FAILED: {res.error}")
    return calls


def change_one_percent(sb: Sandbox, book, seed: int = 1) -> int:
    """Rename 1% of accounts in every vendor through their write APIs."""
    rng = random.Random(seed)
    ids = list(book.accounts.loc[~book.accounts["deleted"].astype(bool), "account_id"])
    picked = rng.sample(ids, max(1, len(ids) // 100))
    _salesforce_renames(sb, picked)
    _hubspot_renames(sb, picked)
    _stripe_renames(sb, book, picked)
    return len(picked)


def _salesforce_renames(sb: Sandbox, picked: list[str]) -> None:
    from simple_salesforce import Salesforce

    from connectors.sandbox.sf_schema import id_for_key

    c = sb.credentials["salesforce"]
    sf = Salesforce(session_id=c["session_id"], instance_url=c["instance_url"], session=TrustedSession(sb.ca_path),
                    version="60.0")
    for i in range(0, len(picked), 200):
        records = [{"attributes": {"type": "Account"}, "id": id_for_key("Account", a), "Name": f"Bench {a}"}
                   for a in picked[i:i + 200]]
        sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records})


def _hubspot_renames(sb: Sandbox, picked: list[str]) -> None:
    import requests

    from connectors.sandbox.hs_book import hubspot_id

    token = sb.credentials["hubspot"]["access_token"]
    for i in range(0, len(picked), 100):
        inputs = [{"id": str(hubspot_id("companies", a)), "properties": {"name": f"Bench {a}"}} for a in picked[i:i + 100]]
        requests.post(f"{sb.urls['hubspot']}/crm/v3/objects/companies/batch/update", json={"inputs": inputs},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30).raise_for_status()
        time.sleep(0.2)


def _stripe_renames(sb: Sandbox, book, picked: list[str]) -> None:
    import requests

    key = sb.credentials["stripe"]["api_key"]
    customers = dict(zip(book.accounts["account_id"], book.accounts["stripe_customer_id"]))
    for a in picked:
        if customers.get(a):
            r = requests.post(f"{sb.urls['stripe']}/v1/customers/{customers[a]}", data={"name": f"Bench {a}"},
                              headers={"Authorization": f"Bearer {key}"}, verify=str(sb.ca_path), timeout=30)
            if r.status_code == 429:
                time.sleep(1.0)
            time.sleep(0.05)


SERVE = """
import json, sys
from connectors.sandbox.app import serve_until_interrupted
from connectors.sandbox.book import generate_book
def ready(sb):
    print(json.dumps({"urls": sb.urls, "credentials": sb.credentials, "ca_path": str(sb.ca_path)}), flush=True)
serve_until_interrupted(generate_book(accounts=int(sys.argv[1])), on_ready=ready)
"""


class RemoteSandbox:
    """The sandbox in its own process (as the vendors are): our client does not share a
    GIL with the emulators. Same attributes as :class:`Sandbox` for what the bench uses."""

    def __init__(self, accounts: int):
        import json
        import subprocess

        root = Path(__file__).resolve().parent.parent
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, str(accounts)], cwd=root, stdout=subprocess.PIPE,
                                     text=True, env={**__import__("os").environ, "PYTHONPATH": str(root)})
        info = json.loads(self.proc.stdout.readline())
        self.urls, self.credentials, self.ca_path = info["urls"], info["credentials"], Path(info["ca_path"])

    def _control(self, name: str, method: str, path: str, body: dict | None = None) -> dict:
        import requests

        r = requests.request(method, f"{self.urls[name]}/__sandbox/{path}", json=body, verify=str(self.ca_path), timeout=30)
        r.raise_for_status()
        return r.json() if r.content else {}

    def set_faults(self, name: str, config: FaultConfig) -> None:
        self._control(name, "POST", "faults", config.to_dict())

    def stats(self) -> dict:
        return {name: self._control(name, "GET", "stats") for name in self.urls}

    def clear_stats(self) -> None:
        for name in self.urls:
            self._control(name, "DELETE", "stats")

    def __enter__(self) -> "RemoteSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--in-process", action="store_true", help="Run the emulators in this process (shares the GIL).")
    args = ap.parse_args()
    t = time.monotonic()
    book = generate_book(accounts=args.accounts)
    print(f"book: {args.accounts} accounts in {time.monotonic() - t:.1f}s")
    sandbox = Sandbox(book) if args.in_process else RemoteSandbox(args.accounts)
    for name in sandbox.urls:
        sandbox.set_faults(name, FaultConfig(latency_ms=args.latency_ms))
    with sandbox as sb, tempfile.TemporaryDirectory() as tmp:
        cfg = {n: {"enabled": True, "base_url": sb.urls[n], "ca_bundle": str(sb.ca_path)} for n in sb.urls}
        with Store(Path(tmp) / "bench.duckdb") as store:
            t = time.monotonic()
            full = sync_sources(store, cfg, sb.credentials, progress=False, project_dir=Path(tmp))
            print(f"full sync wall: {time.monotonic() - t:.1f}s")
            full_calls = report("full sync", full, sb.stats(), args.latency_ms)
            sb.set_faults("hubspot", FaultConfig())  # setup writes without added latency
            changed = change_one_percent(sb, book)
            for name in sb.urls:
                sb.set_faults(name, FaultConfig(latency_ms=args.latency_ms))
            sb.clear_stats()
            t = time.monotonic()
            inc = sync_sources(store, cfg, sb.credentials, progress=False, project_dir=Path(tmp))
            print(f"\nchanged {changed} accounts in each vendor; incremental sync wall: {time.monotonic() - t:.1f}s")
            inc_calls = report("incremental sync", inc, sb.stats(), args.latency_ms)
            for name in inc_calls:
                print(f"{name}: incremental calls = {inc_calls[name] / full_calls[name] * 100:.1f}% of full")


if __name__ == "__main__":
    main()
