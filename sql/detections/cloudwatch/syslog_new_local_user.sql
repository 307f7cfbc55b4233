/*
id: syslog_new_local_user
title: New local user account created on a host
description: >-
  useradd logged "new user: name=<user>" on an instance (also written when
  adduser, newusers or a package creates an account). Fleet hosts get
  their accounts from the image or from configuration management at boot,
  so a local account created on a running host is a persistence technique
  (a backdoor login that survives key rotation). System accounts created by
  package installs (nologin shells) are reported as well: the name and the
  time of a package update tell them apart.
severity: medium
status: stable
log_source: cloudwatch
mitre:
  - TA0003:T1136.001
dedup:
  keys: [account_id, log_stream, actor]
  period: 1h
threshold: 1
runbook: |-
  1. Read the full useradd line (UID, GID, home, shell) and the host's
     auth log before it:
     SELECT event_time, app_name, ssh_event, ssh_src_ip, sudo_user,
     sudo_command, message FROM cloudwatch WHERE log_stream = '<log_stream>'
     AND dt = '<day>' ORDER BY event_time. Who was logged in, through
     which sudo command?
  2. A package install (yum/dnf/apt in the same minute, nologin shell,
     UID < 1000) is benign; an interactive shell user (UID >= 1000,
     /bin/bash) created by hand is not, unless a ticket says so.
  3. If unexplained: lock and inspect the account through SSM
     (`usermod -L <actor>`, `ls -la /home/<actor>/.ssh`), look for sudoers
     changes, isolate the instance and investigate the session that
     created it (syslog_sudo_root_shell, syslog_ssh_* alerts).
false_positives:
  - Packages creating their service accounts during an update.
  - Configuration management or an administrator adding a user outside
    the image build (should be rare and ticketed).
references:
  - https://attack.mitre.org/techniques/T1136/001/
  - https://man7.org/linux/man-pages/man8/useradd.8.html
owner: security-engineering
*/
SELECT
    event_time,
    account_id,
    useradd_user AS actor,
    log_group,
    log_stream,
    hostname,
    message,
    ssh_src_ip AS source_ip,
    'useradd' AS event_name
FROM cloudwatch
WHERE
    {{ window() }}
    AND useradd_user IS NOT NULL
