// The MTPWebSocket adapter arrives with the USP issue.
