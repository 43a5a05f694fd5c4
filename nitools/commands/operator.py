"""``nitools approve``, ``skip``, ``reinstall``, ``reboot`` and ``boards``: an operator
acts on one board of a running station, through its control socket (this machine) or
its HTTP API (``--station URL --token T``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from nitools.errors import UsageError
from nitools.monitor.control import (
    BOARDS,
    ControlError,
    ask,
    control_folder,
    control_path,
    station_sockets,
)
from nitools.station.engine.operator import Verdict

HTTP_TIMEOUT = 15.0


def local_socket(station_name: str | None) -> Path:
    """The socket of the named station, or of the only one running here."""
    if station_name:
        return control_path(station_name)
    sockets = station_sockets()
    if not sockets:
        raise ControlError(f"no station runs here (no control socket in {control_folder()}): "
                           "start 'nitools station', or name a remote one with --station URL")
    if len(sockets) > 1:
        names = ", ".join(path.stem for path in sockets)
        raise UsageError(f"several stations run here ({names}): choose one with "
                         "--station-name NAME")
    return sockets[0]


def request(action: str, macs: list[str], all_held: bool, station_name: str | None,
            url: str | None, token: str | None) -> dict[str, Any]:
    if url is None:
        return ask(local_socket(station_name), {"action": action, "macs": macs,
                                                "all": all_held})
    return _over_http(url, token, action, macs, all_held)


def _over_http(url: str, token: str | None, action: str, macs: list[str],
               all_held: bool) -> dict[str, Any]:
    if not token:
        raise UsageError("--station URL needs --token TOKEN (the station's --web-token)")
    if all_held:
        raise UsageError("--all works on this machine's station (the control socket); over "
                         "the HTTP API name each board")
    headers = {"Authorization": f"Bearer {token}"}
    base = url.rstrip("/")
    try:
        if action == BOARDS:
            answer = requests.get(f"{base}/api/boards", headers=headers, timeout=HTTP_TIMEOUT)
            _check(answer)
            return answer.json()
        results = []
        for mac in macs:
            answer = requests.post(f"{base}/api/boards/{mac}/{action}", headers=headers,
                                   timeout=HTTP_TIMEOUT)
            if answer.status_code not in (200, 404, 409):
                _check(answer)
            results.append(answer.json())
        return {"results": results}
    except requests.RequestException as exc:
        raise ControlError(f"{base}: {exc}") from None
    except ValueError:
        raise ControlError(f"{base}: the answer is not JSON: is this a nitools station?") \
            from None


def _check(answer: requests.Response) -> None:
    if answer.status_code == 401:
        raise UsageError(f"{answer.url}: the token was refused")
    if answer.status_code >= 400:
        try:
            said = answer.json().get("error", answer.reason)
        except ValueError:
            said = answer.reason
        raise ControlError(f"{answer.url}: {answer.status_code} {said}")


def run_action(action: str, macs: list[str], all_held: bool, station_name: str | None,
               url: str | None, token: str | None, as_json: bool) -> int:
    """Prints each board's answer; 0 when every action was done, 1 otherwise."""
    answer = request(action, macs, all_held, station_name, url, token)
    results = answer["results"]
    if as_json:
        print(json.dumps(results, indent=2))
    elif not results:
        print("no board is held")
    for result in results if not as_json else ():
        phase = f" -> {result['phase']}" if result["phase"] else ""
        print(f"{result['mac']}: {action} {result['verdict']}{phase}: {result['message']}")
    return 0 if all(r["verdict"] == Verdict.DONE.value for r in results) else 1


def run_boards(station_name: str | None, url: str | None, token: str | None,
               as_json: bool) -> int:
    boards = request(BOARDS, [], False, station_name, url, token)["boards"]
    if as_json:
        print(json.dumps(boards, indent=2))
        return 0
    if not boards:
        print("no boards in this run yet")
    for board in boards:
        plan = board.get("plan") or {}
        what = ""
        if plan:
            identity = f", identity {plan['identity']}" if plan.get("identity") else ""
            script = f", script {plan['script_sha256'][:12]}" if plan.get("script_sha256") \
                else ""
            what = f"  {plan.get('version') or '-'} {' '.join(plan.get('packages') or [])}" \
                f"{identity}{script}"
        model = f" {board['model']}" if board.get("model") else ""
        print(f"{board['mac']}  {board['phase']:<12}{model}{what}")
    return 0

