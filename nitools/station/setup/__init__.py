"""What the operator said, merged and checked once at start: the options, the ini file,
which plugin and files serve which port, and the preflight of the interfaces."""
