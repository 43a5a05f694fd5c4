"""The station's per-board rules: which inventory row a board has, which template
makes its first-boot script, what happens to boards the inventory does not list, and
``--device-mode``. Built and checked once at start (docs/inventory.md).

Order of who decides (documented): a plugin's own answer > the board's inventory
row > the station's options.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from nitools.errors import UsageError
from nitools.netinstall.frame import format_mac
from nitools.netinstall.messages import Announcement
from nitools.routeros.device_mode import OFF, parse_device_mode
from nitools.station.engine.contract import ConfigMode
from nitools.station.plan.first_boot import Facts, FirstBootTemplate
from nitools.station.plan.ini import Unlisted
from nitools.station.plan.inventory import (
    URL_SETTINGS,
    InventoryRow,
    NotListed,
    TableInventory,
    UrlInventory,
    load_inventory,
)


@dataclass(frozen=True)
class BoardRules:
    inventory: TableInventory | UrlInventory | None = None
    template: FirstBootTemplate | None = None  # --config-template
    unlisted: Unlisted = Unlisted.REFUSE
    device_mode: str = OFF
    station: str = ""
    templates: dict[str, FirstBootTemplate] = field(default_factory=dict)  # rows' own

    @property
    def active(self) -> bool:
        return self.inventory is not None or self.template is not None or \
            self.device_mode != OFF

    def row_for(self, mac: bytes, announced: Announcement) -> InventoryRow | None:
        """The board's row; None: no inventory, or unlisted boards get the defaults.
        NotListed when the board must be left alone; InventoryUnavailable when a
        server could not say."""
        if self.inventory is None:
            return None
        try:
            return self.inventory.row_for(mac, announced.software_id, announced.model)
        except NotListed:
            if self.unlisted is Unlisted.DEFAULT:
                return None
            raise

    def template_for(self, row: InventoryRow | None) -> FirstBootTemplate | None:
        path = row.path("template") if row is not None else None
        if path is None:
            return self.template
        return self.templates[path]  # every row's template was read at start

    def facts(self, mac: bytes, announced: Announcement, routeros: str, port: str | None
              ) -> Facts:
        """What the station knows of an announcing board, for its template."""
        return Facts(mac=format_mac(mac), macs=[format_mac(mac)],
                     software_id=announced.software_id, model=announced.model,
                     arch=announced.arch, min_version=announced.min_version,
                     routeros=routeros, station=self.station, port=port or "")


def board_rules(inventory: str | None, config_template: str | None, unlisted: str | None,
                device_mode: str | None, station: str = "",
                config_mode: ConfigMode | None = None,
                script: Any = None, inventory_settings: str | None = None,
                inventory_token: str | None = None) -> BoardRules:
    """Read and check everything at start: one clear error now, not a refusal per board.
    ``inventory_settings``: the settings a URL inventory may give, comma-separated."""
    url_settings = frozenset(name.strip() for name in (inventory_settings or "").split(",")
                             if name.strip())
    unknown = sorted(url_settings - set(URL_SETTINGS))
    if unknown:
        raise UsageError(f"--inventory-settings {unknown[0]}: give some of "
                         f"{', '.join(URL_SETTINGS)}")
    try:
        chosen_unlisted = Unlisted((unlisted or Unlisted.REFUSE.value).strip())
    except ValueError:
        raise UsageError(f"--unlisted {unlisted}: use "
                         f"{' or '.join(choice.value for choice in Unlisted)}") from None
    if config_template is not None and script is not None:
        raise UsageError("--config-template and a first-boot script (-s / --script) both "
                         "make the script: choose one")
    if config_template is not None and config_mode not in (None, ConfigMode.SCRIPT):
        raise UsageError(f"--config-template makes a first-boot script, but the configuration "
                         f"is '{config_mode.value}': drop one of them")
    template = FirstBootTemplate.read(config_template) if config_template else None
    table = load_inventory(inventory, url_settings, template=config_template is not None,
                           token=inventory_token) if inventory else None
    templates: dict[str, FirstBootTemplate] = {}
    if template is not None and table is None:
        template.check_names(())  # no inventory: the board facts are all it may use
    if isinstance(table, TableInventory):
        columns = table.columns
        if template is not None:
            template.check_names(columns)
        for _where, path in table.files("template"):
            if path not in templates:
                templates[path] = FirstBootTemplate.read(path)
                templates[path].check_names(columns)
        for where, path in table.files("mode_script"):
            if not os.path.isfile(path):
                raise UsageError(f"{where}: mode_script {path} is not a file")
    return BoardRules(table, template, chosen_unlisted, parse_device_mode(device_mode),
                      station, templates)

