// The entry point lives in YimmoCommand (ArgumentParser); see there.
YimmoCommand.main()
