from nitools.cli import main

main()
