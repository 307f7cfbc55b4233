/*
id: syslog_ssh_root_login
title: Successful SSH login as root
description: >-
  sshd accepted a login for the root account (any method: password,
  public key, keyboard-interactive, GSSAPI). Direct root logins bypass the
  per-person accountability of logging in as a named user and escalating
  with sudo; hardened images set PermitRootLogin no, so a root login means
  the hardening was undone or an attacker planted a key in
  /root/.ssh/authorized_keys. Logins from any source address are reported.
severity: high
status: stable
log_source: cloudwatch
mitre:
  - TA0001:T1078.003
  - TA0003:T1098.004
dedup:
  keys: [account_id, log_stream, source_ip]
  period: 1h
threshold: 1
runbook: |-
  1. Read the host's auth log around the login:
     SELECT event_time, ssh_event, ssh_user, ssh_src_ip, message
     FROM cloudwatch WHERE log_stream = '<log_stream>'
     AND dt = '<day>' ORDER BY event_time; note the key fingerprint in the
     Accepted line and anything the session did (sudo, useradd).
  2. Identify the source address: bastion or admin VPN, or an internet
     address never seen before? Check VPC flow logs for the session size.
  3. Check the host's /root/.ssh/authorized_keys and sshd_config
     (PermitRootLogin) through SSM:
     `aws ssm send-command --instance-ids <log_stream>
     --document-name AWS-RunShellScript --parameters
     commands='cat /root/.ssh/authorized_keys; sshd -T | grep -i permitroot'`.
  4. If unexplained: isolate the instance (quarantine security group),
     snapshot its volumes for forensics, remove the unknown key, set
     PermitRootLogin no, and rotate secrets stored on the host.
false_positives:
  - Break-glass access by an administrator from the bastion during an
    incident (should come with a ticket).
  - Legacy automation that logs in as root with a key.
references:
  - https://attack.mitre.org/techniques/T1078/003/
  - https://attack.mitre.org/techniques/T1098/004/
owner: security-engineering
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
    AND regexp_like(ssh_event, '^accepted_')
    AND ssh_user = 'root'
