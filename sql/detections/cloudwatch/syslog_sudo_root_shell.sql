/*
id: syslog_sudo_root_shell
title: Interactive root shell through sudo
description: >-
  A user ran an interactive shell as root with sudo: COMMAND is a shell
  binary alone or with -i/-l/--login (what `sudo -s`, `sudo -i`,
  `sudo bash` log), or su to root (`sudo su`, `sudo su -`,
  `sudo su - root`). Scoped sudo rules grant named commands; a root shell
  gives unrestricted, largely unlogged control of the host and is a common
  step after an SSH compromise. Lines where sudo refused the command
  (sudo_error set: wrong password, not in sudoers) are excluded, as are
  non-interactive `sh -c '...'` wrappers used by configuration management,
  and shells run as another (non-root) user.
severity: high
status: stable
log_source: cloudwatch
mitre:
  - TA0004:T1548.003
  - TA0002:T1059.004
dedup:
  keys: [account_id, log_stream, actor]
  period: 1h
threshold: 1
runbook: |-
  1. Reconstruct the user's session on the host:
     SELECT event_time, ssh_event, ssh_src_ip, sudo_command, message
     FROM cloudwatch WHERE log_stream = '<log_stream>' AND dt = '<day>'
     ORDER BY event_time; find the SSH login that preceded the sudo and
     its source address.
  2. Ask the user (actor) whether they opened the shell and why; an
     engineer working from the bastion with a ticket is benign.
  3. If the login came from an unknown address or the user denies it,
     check what followed (useradd, new keys, cron, outbound connections in
     VPC flow logs) and isolate the instance (quarantine security group,
     EBS snapshots); lock the user (`passwd -l <actor>`) and remove their
     keys.
  4. Long term: replace blanket sudo with command-scoped sudoers rules and
     use SSM Session Manager with session logging.
false_positives:
  - Administrators opening a root shell during maintenance (known user,
    bastion source address, change ticket).
  - Bootstrap or break-glass runbooks that use `sudo -i`.
references:
  - https://attack.mitre.org/techniques/T1548/003/
  - https://www.sudo.ws/docs/man/sudoers.man/
owner: security-engineering
equivalent_mutants:
  - mutant: "drop main.where: app_name = 'sudo'"
    reason: >-
      Implied by sudo_command IS NOT NULL: the cloudwatch parser fills
      sudo_command only for lines whose program tag is sudo
      (mamori.sources.syslog._auth calls _sudo for app "sudo" alone), so
      no line of another program can reach the COMMAND regexes.
  - mutant: "drop main.where: NOT sudo_command IS NULL"
    reason: >-
      Implied by the COMMAND regexes: for a NULL sudo_command (a sudo
      session open/close or PAM line) both regexp_like(...) are NULL, so
      the OR is NULL and the row is dropped either way.
*/
SELECT
    event_time,
    account_id,
    sudo_user AS actor,
    sudo_run_as,
    sudo_command,
    log_group,
    log_stream,
    hostname,
    message,
    ssh_src_ip AS source_ip,
    'sudo' AS event_name
FROM cloudwatch
WHERE
    {{ window() }}
    AND app_name = 'sudo'
    AND sudo_command IS NOT NULL
    AND sudo_error IS NULL
    AND coalesce(sudo_run_as, 'root') = 'root'
    AND (
        regexp_like(
            sudo_command,
            '^(/usr)?(/local)?/s?bin/(ba|da|z|k|c|tc|fi|mk|a)?sh( +(-i|-l|-s|--login|-))* *$'
        )
        OR regexp_like(
            sudo_command, '^(/usr)?/s?bin/su( +(-|-l|--login|-s +\S+|root))* *$'
        )
    )
