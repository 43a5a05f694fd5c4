"""``--inventory``: a table of boards, each with its own settings and template values.

Sources (docs/inventory.md): a CSV file (header row), a JSON file (a list of objects),
an ``http(s)://`` URL answering such a list (read at start), or a URL containing
``{mac}`` or ``{software_id}``, asked per board (one object, a list, or NetBox's
``{"results": [...]}``) with a timeout, its answers kept for the run.

A row names its board by ``mac`` (any common spelling) and/or ``software_id``; a row
with ``*`` as its ``mac``, or with only a ``model``, gives defaults: a board's own row
takes every value it leaves empty from its model's row, then from the ``*`` row.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3

from nitools.bounded import Bounded
from nitools.errors import NitoolsError, SourceError, UsageError
from nitools.fetch.download import copy_body, reason, redact, within
from nitools.netinstall.frame import format_mac, parse_mac
from nitools.netinstall.messages import is_software_id
from nitools.station.engine.contract import ConfigMode
from nitools.station.engine.settings import AFTER_INSTALL
from nitools.station.plan.first_boot import TEMPLATE_NAMES
from nitools.station.plan.ini import parse_yes_no
from nitools.station.plan.payload import read_setting_file

# Columns that choose settings (the rest are template values).
KEY_COLUMNS = ("mac", "software_id", "model")
SETTING_COLUMNS = ("routeros", "packages", "config_mode", "mode_script", "template", "hold",
                   "after_install")
RESERVED = (*KEY_COLUMNS, *SETTING_COLUMNS)
# Columns that name files on this station: a server must not choose those.
FILE_COLUMNS = ("mode_script", "template")
# What a URL inventory may set only when --inventory-settings names it: a server the
# station does not control must not choose the release or skip the configuration.
URL_SETTINGS = ("routeros", "packages", "config_mode")
ANY_BOARD = "*"
MAX_INVENTORY_BYTES = 16 << 20
MAX_ANSWER_BYTES = 64 << 10  # one board's row: a few hundred bytes in practice
URL_TIMEOUT = (5.0, 10.0)  # connect, between bytes
URL_TOTAL = 15.0  # one board's whole lookup: connecting, headers, redirects and body
MAX_REDIRECTS = 3  # and to the same server only
LOOKUPS = 4  # lookups waiting on the network at once; past them a board is refused at once
_LOOKUPS = threading.BoundedSemaphore(LOOKUPS)
REMEMBERED_ANSWERS = 65536
KEPT_ANSWER_BYTES = 16 << 20  # all answers kept for the run, together (the oldest go)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class NotListed(NitoolsError):
    """The inventory has no row for this board."""


class InventoryUnavailable(NitoolsError):
    """The inventory could not be asked about this board now (a server down or slow)."""


@dataclass(frozen=True)
class InventoryRow:
    """One board's row, with the defaults it takes merged in."""

    key: str  # how it was found: "mac=aa:bb:..", "software_id=..", "model=..", "*"
    values: Mapping[str, Any]  # every column; None: empty
    where: str  # "boards.csv line 4", for messages
    base_dir: str = ""  # relative file names are beside the inventory file
    from_url: bool = False

    def text(self, column: str) -> str | None:
        value = self.values.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return str(value).strip()

    @property
    def routeros(self) -> str | None:
        return self.text("routeros")

    @property
    def packages(self) -> tuple[str, ...] | None:
        value = self.values.get("packages")
        if isinstance(value, list):
            return tuple(str(name).strip() for name in value if str(name).strip())
        text = self.text("packages")
        return tuple(text.replace(",", " ").split()) if text else None

    @property
    def config_mode(self) -> ConfigMode | None:
        text = self.text("config_mode")
        return ConfigMode.parse(text, f"{self.where}: config_mode") if text else None

    @property
    def hold(self) -> bool | None:
        """--hold for this board alone (yes or no), None: as the station says."""
        text = self.text("hold")
        return parse_yes_no(text, f"{self.where}: hold") if text else None

    @property
    def after_install(self) -> str | None:
        text = self.text("after_install")
        if text is not None and text not in AFTER_INSTALL:
            raise UsageError(f"{self.where}: after_install={text} is not one of "
                             f"{', '.join(AFTER_INSTALL)}")
        return text

    def path(self, column: str) -> str | None:
        """A file a column names, beside the inventory file when relative."""
        text = self.text(column)
        if text is None:
            return None
        return os.path.join(self.base_dir, text)  # an absolute path stays as it is

    def template_values(self) -> dict[str, Any]:
        """The columns a template sees (the reserved ones are settings, not values)."""
        return {name: ("" if value is None else value) for name, value in self.values.items()
                if name not in RESERVED}


def check_row(row: InventoryRow, url_settings: frozenset[str] = frozenset(),
              template: bool = False) -> None:
    """The settings a row gives, checked: UsageError naming the row. ``url_settings``: the
    settings a URL's rows may give (--inventory-settings); ``template``: the station makes
    first-boot scripts from a template, which a URL's row may not skip."""
    from nitools.routeros.npk import is_package_name

    row.config_mode  # noqa: B018  (a word that is no mode raises here, naming the row)
    row.hold  # noqa: B018  (likewise a word that is neither yes nor no)
    row.after_install  # noqa: B018
    for name in row.packages or ():
        if not is_package_name(name):
            raise UsageError(f"{row.where}: packages: '{name}' is not a package name "
                             "(such as container or wifi-qcom)")
    if row.from_url:
        for column in URL_SETTINGS:
            if row.text(column) is not None and column not in url_settings:
                raise UsageError(f"{row.where}: a URL inventory sets {column} only when "
                                 f"--inventory-settings names it")
        if template and row.config_mode in (ConfigMode.EMPTY, ConfigMode.DEFAULT):
            raise UsageError(f"{row.where}: config_mode={row.config_mode.value} from a URL "
                             "would skip the station's first-boot template: refused")
        for column in FILE_COLUMNS:
            if row.text(column) is not None:
                raise UsageError(f"{row.where}: a URL inventory cannot name files of this "
                                 f"station ({column}=): use --config-template / "
                                 "--mode-script, or a file inventory")


class TableInventory:
    """Rows read at start from a file or a URL, found by MAC, software ID or model."""

    def __init__(self, records: Iterable[tuple[str, Mapping[str, Any]]], source: str,
                 base_dir: str = "", from_url: bool = False,
                 url_settings: frozenset[str] = frozenset(), template: bool = False) -> None:
        self.source = source
        self.base_dir = base_dir
        self.from_url = from_url
        self.columns: set[str] = set()
        self._by_mac: dict[bytes, tuple[str, Mapping[str, Any]]] = {}
        self._by_id: dict[str, tuple[str, Mapping[str, Any]]] = {}
        self._by_model: dict[str, tuple[str, Mapping[str, Any]]] = {}
        self._any: tuple[str, Mapping[str, Any]] | None = None
        self.rows = 0
        for where, record in records:
            self._add(where, record)
            self.rows += 1
        for where, record in self._all():
            check_row(self._row("", where, [record]), url_settings, template)

    def forget(self, mac: bytes, software_id: str) -> None:
        """Nothing to let go of: a table is read once, at start."""

    def _all(self) -> list[tuple[str, Mapping[str, Any]]]:
        found = [*self._by_mac.values(), *self._by_id.values(), *self._by_model.values()]
        if self._any is not None:
            found.append(self._any)
        return list({id(record): (w, record) for w, record in found}.values())

    def _add(self, where: str, record: Mapping[str, Any]) -> None:
        check_columns(record, where)
        self.columns.update(record)
        mac, software_id, model = (_cell(record.get(name)) for name in KEY_COLUMNS)
        entry = (where, record)
        if mac == ANY_BOARD:
            if self._any is not None:
                raise UsageError(f"{where}: a second '*' row (the first is {self._any[0]}): "
                                 "keep one row of defaults")
            self._any = entry
            return
        if mac is None and software_id is None:
            if model is None:
                raise UsageError(f"{where}: the row names no board: give mac, software_id, "
                                 "model, or * as mac for defaults")
            _put(self._by_model, model, entry, f"model {model}")
            return
        if mac is not None:
            try:
                address = parse_mac(mac)
            except ValueError as exc:
                raise UsageError(f"{where}: {exc}") from None
            _put(self._by_mac, address, entry, f"MAC {format_mac(address)}")
        if software_id is not None:
            if not is_software_id(software_id):
                raise UsageError(f"{where}: software_id {software_id!r} is not a software ID "
                                 "(letters, digits and dashes, as a board announces it)")
            _put(self._by_id, software_id, entry, f"software ID {software_id}")

    def row_for(self, mac: bytes, software_id: str, model: str) -> InventoryRow:
        own_mac = self._by_mac.get(mac)
        own_id = self._by_id.get(software_id) if software_id else None
        if own_mac is not None and own_id is not None and own_mac is not own_id:
            raise NotListed(f"two inventory rows name this board ({own_mac[0]} by MAC, "
                            f"{own_id[0]} by software ID): keep one")
        own = own_mac or own_id
        layers = [entry for entry in (self._any, self._by_model.get(model), own) if entry]
        if not layers:
            raise NotListed(f"not in the inventory {self.source} (MAC {format_mac(mac)}, "
                            f"software ID {software_id or '-'})")
        if own is not None:
            key = f"mac={format_mac(mac)}" if own is own_mac else f"software_id={software_id}"
        else:
            key = f"model={model}" if self._by_model.get(model) else ANY_BOARD
        return self._row(key, layers[-1][0], [record for _, record in layers])

    def _row(self, key: str, where: str, layers: list[Mapping[str, Any]]) -> InventoryRow:
        values: dict[str, Any] = dict.fromkeys(self.columns)
        for record in layers:  # defaults first, the board's own row last
            values.update({name: value for name, value in record.items()
                           if _cell(value) is not None or isinstance(value, (list, dict))})
        return InventoryRow(key, values, where, self.base_dir, self.from_url)

    def files(self, column: str) -> list[tuple[str, str]]:
        """Every (row, path) a file column names, paths beside the inventory file."""
        out = []
        for where, record in self._all():
            text = _cell(record.get(column))
            if text is not None:
                out.append((where, os.path.join(self.base_dir, text)))
        return out

    def keyed_rows(self) -> list[tuple[str, bytes | None, str | None, str | None]]:
        """Every board row: (where, MAC, software ID, model), for ``nitools render``."""
        out = []
        for where, record in self._all():
            mac_text = _cell(record.get("mac"))
            if mac_text == ANY_BOARD:
                continue
            software_id = _cell(record.get("software_id"))
            if mac_text is None and software_id is None:
                continue
            out.append((where, parse_mac(mac_text) if mac_text else None, software_id,
                        _cell(record.get("model"))))
        return sorted(out, key=lambda item: _line_number(item[0]))


class UrlInventory:
    """A server asked per board: ``{mac}`` / ``{software_id}`` in the URL are filled in.
    Answers (and "no such board") are kept for the run; a failure is not kept: the
    board is refused now and asked about again after its rest."""

    columns: set[str] | None = None  # not known before the first answer
    rows: int | None = None  # nor how many boards it knows
    from_url = True

    def __init__(self, url: str, url_settings: frozenset[str] = frozenset(),
                 template: bool = False, token: str | None = None) -> None:
        self._url = url  # may hold a password or a token: never shown
        self.source = redact(url)  # what messages, logs and the journal show
        self._headers = {"Accept": "application/json", **auth_header(token)}
        self.url_settings = url_settings
        self.template = template
        # URL -> (its answer, the bytes it took), bounded in count and in bytes: forged
        # boards by the thousand must not keep a server's answers in memory for ever.
        self._answers: Bounded[str, tuple[InventoryRow | str, int]] = \
            Bounded(REMEMBERED_ANSWERS)
        self._kept_bytes = 0
        self._lock = threading.Lock()

    def row_for(self, mac: bytes, software_id: str, model: str) -> InventoryRow:
        if "{software_id}" in self.source and not is_software_id(software_id):
            # '..' or a slash would make the lookup another resource of the server
            raise NotListed(f"software ID {software_id[:40]!r} is not the shape of one: not "
                            "asked of the inventory")
        url = self._url_for(mac, software_id)
        with self._lock:
            kept = self._answers.get(url)
        if kept is None:
            kept = self._ask(url, mac, software_id)
            with self._lock:
                self._keep(url, kept)
        known = kept[0]
        if isinstance(known, str):
            raise NotListed(known)
        return known

    def _url_for(self, mac: bytes, software_id: str) -> str:
        return self._url.replace("{mac}", quote(format_mac(mac), safe=":")) \
            .replace("{software_id}", quote(software_id, safe=""))

    def forget(self, mac: bytes, software_id: str) -> None:
        """Let go of a board's answer (it was refused: only offered boards' are kept)."""
        with self._lock:
            kept = self._answers.pop(self._url_for(mac, software_id), None)
            if kept is not None:
                self._kept_bytes -= kept[1]

    def _keep(self, url: str, kept: tuple[InventoryRow | str, int]) -> None:
        earlier = self._answers.get(url)
        self._kept_bytes += kept[1] - (earlier[1] if earlier is not None else 0)
        for _url, (_answer, size) in self._answers.put(url, kept):
            self._kept_bytes -= size
        while self._kept_bytes > KEPT_ANSWER_BYTES and len(self._answers) > 1:
            _url, (_answer, size) = self._answers.popitem(last=False)
            self._kept_bytes -= size

    def _ask(self, url: str, mac: bytes, software_id: str) -> tuple[InventoryRow | str, int]:
        """The server's answer for one board, and how many bytes it was."""
        shown = redact(url)
        status, body = _fetch(url, shown, self._headers)
        if status == 404:
            return f"not in the inventory: {shown} answered HTTP 404", len(shown)
        try:
            answer = json.loads(body)
        except (ValueError, RecursionError):
            raise InventoryUnavailable(f"inventory {shown} did not answer JSON: board not "
                                       "offered") from None
        if isinstance(answer, Mapping) and isinstance(answer.get("results"), list):
            answer = answer["results"]  # NetBox's list answers
        records = answer if isinstance(answer, list) else [answer]
        if not records:
            return f"not in the inventory: {shown} answered no row", len(body)
        if len(records) > 1 or not isinstance(records[0], Mapping):
            raise InventoryUnavailable(f"inventory {shown} answered {len(records)} rows for one "
                                       "board: make the lookup name one board")
        try:
            record = _cleaned(records[0], shown)
            check_columns(record, shown)
        except UsageError as exc:
            raise InventoryUnavailable(f"{exc}: board not offered") from None
        named_mac, named_id = _cell(record.get("mac")), _cell(record.get("software_id"))
        if named_mac is not None or named_id is not None:  # it says which board: ours?
            try:
                same = (named_mac is not None and parse_mac(named_mac) == mac) or \
                    (named_id is not None and named_id == software_id)
            except ValueError:
                same = False
            if not same:
                return (f"not in the inventory: {shown} answered the row of another board",
                        len(body))
        key = f"mac={format_mac(mac)}" if "{mac}" in self._url else \
            f"software_id={software_id}"
        row = InventoryRow(key, record, shown, "", from_url=True)
        try:
            check_row(row, self.url_settings, self.template)
        except UsageError as exc:
            raise InventoryUnavailable(str(exc)) from None
        return row, len(body)


def _fetch(url: str, shown: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
    """GET ``url`` for one board within URL_TOTAL in all (a server that drips its headers
    or redirects for ever included), following redirects to the same server only, in a
    thread of its own: at most LOOKUPS lookups wait on the network at once, so a slow
    server can never hold every preparation worker. Returns (HTTP status, body) for 200
    and 404; InventoryUnavailable says why there is none."""
    lookups = _LOOKUPS  # released by the lookup's thread, whenever it ends
    if not lookups.acquire(blocking=False):
        raise InventoryUnavailable(f"inventory {shown}: {LOOKUPS} lookups are still waiting "
                                   "for it: board not offered; asked again later")

    def exchange() -> tuple[int, bytes]:
        try:
            return _exchange(url, shown, headers)
        finally:
            lookups.release()

    return within(URL_TOTAL, exchange, lambda: InventoryUnavailable(
        f"inventory {shown} did not answer within {URL_TOTAL:g} s: board not offered; "
        "asked again later"))


def _exchange(url: str, shown: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
    """The HTTP exchange itself (in the lookup's thread)."""
    deadline = time.monotonic() + URL_TOTAL
    origin = urlsplit(url)[:2]
    body = bytearray()
    try:
        for _ in range(MAX_REDIRECTS + 1):
            with requests.get(url, stream=True, timeout=URL_TIMEOUT, headers=dict(headers),
                              allow_redirects=False) as response:
                if response.is_redirect:
                    target = urljoin(url, response.headers.get("Location", ""))
                    if urlsplit(target)[:2] != origin:
                        raise InventoryUnavailable(
                            f"inventory {shown} redirects to another server: refused (give "
                            "the URL it names)")
                    url = target
                    continue
                if response.status_code == 404:
                    return 404, b""
                if response.status_code >= 400:
                    raise InventoryUnavailable(
                        f"inventory {shown} answered HTTP {response.status_code} "
                        f"{response.reason}: board not offered; asked again later")
                copy_body(response, shown, body.extend, limit=MAX_ANSWER_BYTES,
                          seconds=max(deadline - time.monotonic(), 0.0),
                          cancelled=threading.Event())
                return response.status_code, bytes(body)
        raise InventoryUnavailable(f"inventory {shown} redirects more than {MAX_REDIRECTS} "
                                   "times: board not offered")
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError,
            SourceError) as exc:
        why = redact(str(exc) if isinstance(exc, SourceError) else reason(exc))
        raise InventoryUnavailable(f"inventory {shown} could not be asked: {why}: board "
                                   "not offered; asked again later") from None


def load_inventory(source: str, url_settings: frozenset[str] = frozenset(),
                   template: bool = False, token: str | None = None
                   ) -> TableInventory | UrlInventory:
    """Read (or, for a per-board URL, just note) the inventory; UsageError when it
    cannot be used, so that the station does not start with a broken one.
    ``url_settings`` and ``template``: what a URL's rows may set (``check_row``)."""
    if source.lower().startswith(("http://", "https://")):
        if "{mac}" in source or "{software_id}" in source:
            return UrlInventory(source, url_settings, template, token)
        shown = redact(source)
        records = _parse_json(read_setting_file(source, "inventory", MAX_INVENTORY_BYTES,
                                                auth_header(token)), shown)
        return TableInventory(records, shown, from_url=True, url_settings=url_settings,
                              template=template)
    data = read_setting_file(source, "inventory", MAX_INVENTORY_BYTES)
    base_dir = os.path.dirname(os.path.abspath(source))
    name = os.path.basename(source)
    if source.lower().endswith(".json") or data.lstrip()[:1] in (b"[", b"{"):
        return TableInventory(_parse_json(data, name), name, base_dir)
    return TableInventory(_parse_csv(data, name), name, base_dir)


def _parse_csv(data: bytes, name: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        text = data.decode("utf-8-sig")  # a spreadsheet's byte-order mark is not a column
    except UnicodeDecodeError:
        raise UsageError(f"inventory {name} is not UTF-8 text: save it as CSV UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = [_column_name(cell) for cell in next(reader)]
    except StopIteration:
        raise UsageError(f"inventory {name} is empty: give a header row and a row per "
                         "board") from None
    except csv.Error as exc:
        raise UsageError(f"inventory {name} line 1: {exc}") from None
    _check_header(header, name)
    records = []
    try:
        for cells in reader:
            where = f"{name} line {reader.line_num}"
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            if len(cells) > len(header):
                raise UsageError(f"{where}: {len(cells)} cells for {len(header)} columns: "
                                 "quote values that hold a comma")
            cells += [""] * (len(header) - len(cells))
            records.append((where, {column: (cell if cell.strip() else None)
                                    for column, cell in zip(header, cells, strict=True)}))
    except csv.Error as exc:
        raise UsageError(f"inventory {name} line {reader.line_num}: {exc}") from None
    return records


def _delimiter(text: str) -> str:
    """What separates the cells: a comma, or what a spreadsheet's export uses in its place
    (Excel in German, French or Dutch writes semicolons): the commonest of the three in
    the header row."""
    first = text.split("\n", 1)[0]
    counts = {mark: first.count(mark) for mark in (",", ";", "\t")}
    return max(counts, key=lambda mark: (counts[mark], mark == ","))


def _column_name(cell: str) -> str:
    """A header cell: the columns nitools reads (``MAC``, ``Software_ID``) in any case;
    the template's own columns as they are written."""
    name = cell.strip()
    return name.lower() if name.lower() in RESERVED else name


def _check_header(header: list[str], name: str) -> None:
    if "" in header:
        raise UsageError(f"inventory {name} line 1: a column without a name: name every "
                         "column of the header row")
    seen = {column for column in header if header.count(column) > 1}
    if seen:
        raise UsageError(f"inventory {name} line 1: column {sorted(seen)[0]} twice")
    if not set(header) & {"mac", "software_id", "model"}:
        found = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
        raise UsageError(f"inventory {name} line 1: no mac, software_id or model column "
                         f"(found: {found}): the first row must name the columns, with "
                         "commas or semicolons between them")
    check_columns(dict.fromkeys(header), f"inventory {name} line 1")


def _parse_json(data: bytes, name: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        records = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"inventory {name} is not valid JSON: {exc}") from None
    except RecursionError:
        raise UsageError(f"inventory {name} is nested too deeply to be an inventory") from None
    if not isinstance(records, list):
        raise UsageError(f"inventory {name}: expected a list of objects, one per board")
    out = []
    for number, record in enumerate(records, 1):
        where = f"{name} row {number}"
        if not isinstance(record, Mapping):
            raise UsageError(f"{where}: expected an object such as {{\"mac\": \"...\"}}")
        out.append((where, _cleaned(record, where)))
    return out


def _cleaned(record: Mapping[str, Any], where: str) -> dict[str, Any]:
    """JSON values as the template sees them; null is empty."""
    out = {}
    for name, value in record.items():
        if not isinstance(name, str):
            raise UsageError(f"{where}: column names must be text")
        out[name] = value
    return out


def auth_header(token: str | None) -> dict[str, str]:
    """``--inventory-token``: ``Authorization: Bearer TOKEN``, or the value as it is when it
    names its scheme (NetBox: ``Token 0123...``)."""
    if not token:
        return {}
    return {"Authorization": token if " " in token.strip() else f"Bearer {token.strip()}"}


def check_columns(record: Mapping[str, Any], where: str) -> None:
    """Every column a name a template can use, and none that would hide one of its own
    names (``range``, ``dict``, ...)."""
    for name in record:
        if not _NAME.match(name):
            raise UsageError(f"{where}: column '{name}' is not a name a template can use: "
                             "use letters, digits and _")
        if name in TEMPLATE_NAMES:
            raise UsageError(f"{where}: column '{name}' would hide the template's own "
                             f"'{name}': rename the column")


def _cell(value: Any) -> str | None:
    if value is None or isinstance(value, (list, dict)):
        return None
    text = str(value).strip()
    return text or None


def _put(table: dict[Any, tuple[str, Mapping[str, Any]]], key: Any,
         entry: tuple[str, Mapping[str, Any]], what: str) -> None:
    if key in table:
        raise UsageError(f"{entry[0]}: {what} is also in {table[key][0]}: one row per board")
    table[key] = entry


def _line_number(where: str) -> int:
    digits = where.rsplit(" ", 1)[-1]
    return int(digits) if digits.isdigit() else 0
