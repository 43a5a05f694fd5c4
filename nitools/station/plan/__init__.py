"""What each board gets, worked out in worker threads once per board: the plugin's
choice, every file read or downloaded and checked, the inventory row, the first-boot
script. Nothing here runs before a board announces itself, and nothing is offered
before all of it has passed."""
