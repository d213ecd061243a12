// The device simulator arrives with the CWMP and USP issues.
