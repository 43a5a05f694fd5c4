"""Net-booting: boot images out of netinstall.exe/.zip, the dnsmasq config that
serves them, and the dnsmasq process with its guard."""
