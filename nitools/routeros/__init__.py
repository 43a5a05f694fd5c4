"""What RouterOS files are: architectures, versions, packages (.npk), scripts (.rsc)
and the rules for pairing them."""
