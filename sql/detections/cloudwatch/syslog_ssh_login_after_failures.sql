/*
id: syslog_ssh_login_after_failures
title: SSH login succeeds from an address after repeated failures
description: >-
  sshd accepts a login (password, keyboard-interactive or key) from a
  source address that failed to authenticate ten or more times (failed
  password or keyboard-interactive, known or invalid user names) on the
  same host (log stream) in the previous 30 minutes (sequence rule):
  brute force that worked. The failures may fall in the previous run's
  window; they are read from 30 minutes before the window, the login from
  the window, so each sequence is reported once.
severity: critical
status: stable
log_source: cloudwatch
mitre:
  - TA0006:T1110.001
  - TA0001:T1078
dedup:
  keys: [account_id, log_stream, source_ip]
  period: 1h
runbook: |-
  1. Read the host's auth log around the login: SELECT event_time,
     message FROM cloudwatch WHERE log_stream = '<log_stream>' AND
     dt = '<day>' AND event_time BETWEEN <login - 1h> AND <login + 1h>
     ORDER BY event_time.
  2. What did the session do next: sudo, useradd, changes to
     authorized_keys, outbound connections (VPC flow logs of the host)?
  3. Treat the host as compromised unless the owner confirms the login:
     isolate it (quarantine security group), snapshot the volumes, rotate
     the instance role's credentials and the user's password or keys.
  4. Block the source address (NACL) and disable password authentication
     in sshd_config.
false_positives:
  - A user who mistyped a password ten times and then got in from the
    same address (office or VPN range).
references:
  - https://attack.mitre.org/techniques/T1110/001/
  - https://man.openbsd.org/sshd_config
owner: security-engineering
equivalent_mutants:
  - mutant: "drop failures.where: NOT ssh_src_ip IS NULL"
    reason: >-
      Implied by the join: a failure with a NULL ssh_src_ip makes
      l.ssh_src_ip = f.ssh_src_ip NULL, so it never pairs with a login.
  - mutant: "drop logins.where: NOT ssh_src_ip IS NULL"
    reason: >-
      Implied by the join, as for failures: a login with a NULL
      ssh_src_ip matches no failure, so it never has ten before it.
  - mutant: "before widen: 30m -> 1h"
    reason: >-
      The join keeps only failures at most 30 minutes before a login, and
      every login is inside the window, so no failure earlier than 30
      minutes before the window can pair: reading from 1h before only
      reads rows the ON clause drops.
*/
WITH failures AS (
    SELECT
        event_time,
        account_id,
        log_stream,
        ssh_src_ip
    FROM cloudwatch
    WHERE
        {{ window(before='30m') }}
        AND ssh_src_ip IS NOT NULL
        -- "Failed password for invalid user x" is one attempt; the matching
        -- "Invalid user x" line is not counted again.
        AND regexp_like(ssh_event, '^failed_')
),

logins AS (
    SELECT
        event_time,
        account_id,
        log_stream,
        log_group,
        hostname,
        ssh_src_ip,
        ssh_event,
        ssh_user,
        message
    FROM cloudwatch
    WHERE
        {{ window() }}
        AND ssh_src_ip IS NOT NULL
        AND ssh_event IN (
            'accepted_password',
            'accepted_keyboard_interactive',
            'accepted_publickey'
        )
)

SELECT
    l.event_time,
    l.account_id,
    l.ssh_src_ip AS source_ip,
    l.ssh_event AS event_name,
    l.ssh_user AS actor,
    l.log_group,
    l.log_stream,
    l.hostname,
    l.message,
    count(*) AS failures_before
FROM logins AS l
INNER JOIN failures AS f
    ON
        l.account_id = f.account_id
        AND l.log_stream = f.log_stream
        AND l.ssh_src_ip = f.ssh_src_ip
        AND l.event_time > f.event_time
        AND l.event_time - INTERVAL '30' MINUTE <= f.event_time
GROUP BY
    l.event_time,
    l.account_id,
    l.ssh_src_ip,
    l.ssh_event,
    l.ssh_user,
    l.log_group,
    l.log_stream,
    l.hostname,
    l.message
HAVING count(*) >= 10
