"""Formats and transports that several sources share (syslog lines, delimited text, CloudWatch Logs delivery)."""
