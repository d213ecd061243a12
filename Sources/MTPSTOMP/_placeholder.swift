// The MTPSTOMP adapter arrives with the USP issue.
