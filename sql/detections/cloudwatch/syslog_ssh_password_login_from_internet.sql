/*
id: syslog_ssh_password_login_from_internet
title: SSH password login accepted from an internet address
description: >-
  sshd accepted a password (or keyboard-interactive) login from a public
  address. Fleet hosts are reached with keys through the bastion; a
  password accepted from the internet means PasswordAuthentication is on
  for an exposed host, and is the typical success at the end of a password
  brute force. Private (RFC 1918, 100.64.0.0/10 CGNAT, loopback,
  link-local) and IPv6 unique-local / link-local sources are excluded:
  those come through the bastion or a VPN.
severity: high
status: stable
log_source: cloudwatch
mitre:
  - TA0001:T1078.003
  - TA0006:T1110.001
dedup:
  keys: [account_id, log_stream, source_ip]
  period: 1h
threshold: 1
runbook: |-
  1. Check the failures before the success from the same address:
     SELECT event_time, ssh_event, ssh_user, message FROM cloudwatch
     WHERE ssh_src_ip = '<source_ip>' AND dt = '<day>' ORDER BY event_time.
     Many failures then a success (syslog_ssh_brute_force) is a compromise.
  2. Ask the owner of the account (actor) whether they logged in from that
     address; look up the address (VPN, home ISP, hosting provider).
  3. Review what the session did: sudo, useradd, new authorized_keys, and
     outbound traffic from the instance in VPC flow logs.
  4. Contain: isolate the instance (quarantine security group), lock the
     user (`passwd -l <actor>`), set PasswordAuthentication no in
     sshd_config, restrict port 22 to the bastion, and rotate any secrets on
     the host.
false_positives:
  - A user logging in with a password from home or a hotel on a host that
    is still deliberately open to the internet (should be retired).
references:
  - https://attack.mitre.org/techniques/T1078/003/
  - https://attack.mitre.org/techniques/T1110/001/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: NOT ssh_src_ip IS NULL"
    reason: >-
      Implied by the address conditions below it: for a NULL ssh_src_ip
      (sshd on a non-IP socket logs "from UNKNOWN port 65535") each
      NOT regexp_like(...) is NULL, so the row is dropped either way.
  - mutant: "drop main.where: NOT REGEXP_LIKE(LOWER(ssh_src_ip), '^::ffff:((10|127)\\.|192\\.168\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.)')"
    reason: >-
      sshd never logs an IPv4-mapped IPv6 peer: OpenSSH's
      get_socket_address() (canohost.c) runs ipv64_normalise_mapped() on
      every AF_INET6 peer, so a client reaching a dual-stack listener as
      ::ffff:10.0.0.5 is logged as 10.0.0.5 and is excluded by the IPv4
      condition. The clause is a guard only; no sshd line can reach it.
*/
SELECT
    event_time,
    account_id,
    ssh_src_ip AS source_ip,
    ssh_event AS event_name,
    ssh_user AS actor,
    log_group,
    log_stream,
    hostname,
    message
FROM cloudwatch
WHERE
    {{ window() }}
    AND ssh_event IN ('accepted_password', 'accepted_keyboard_interactive')
    AND ssh_src_ip IS NOT NULL
    AND NOT regexp_like(
        lower(ssh_src_ip),
        '^(10|127)\.|^169\.254\.|^192\.168\.|^172\.(1[6-9]|2[0-9]|3[01])\.'
    )
    AND NOT regexp_like(ssh_src_ip, '^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.')
    AND NOT regexp_like(lower(ssh_src_ip), '^(::1$|f[cd][0-9a-f]{2}:|fe[89ab][0-9a-f]:)')
    AND NOT regexp_like(
        lower(ssh_src_ip),
        '^::ffff:((10|127)\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.)'
    )
