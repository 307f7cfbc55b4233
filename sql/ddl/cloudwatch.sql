-- Athena table over mamori's curated CloudWatch Logs Parquet: one row per log event (EC2 syslog, auth/secure
-- and JSON application logs), the raw message always kept, plus best-effort syslog header and auth fields
-- (sshd logins, sudo, useradd) that are NULL when the text did not parse. Then mamori's common columns.
-- Partition projection: no crawler, no MSCK; account/region are enums rendered from configuration,
-- dt is a date range, hour 00-23. Rendered by `mamori` with lake_url / accounts / regions / projection_start.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ database }}.cloudwatch (
    owner STRING,
    log_group STRING,
    log_stream STRING,
    subscription_filters ARRAY<STRING>,
    event_id STRING,
    message STRING,
    syslog_format STRING,
    syslog_timestamp STRING,
    syslog_time TIMESTAMP,
    hostname STRING,
    app_name STRING,
    proc_id STRING,
    msg STRING,
    ssh_event STRING,
    ssh_user STRING,
    ssh_src_ip STRING,
    ssh_src_port INT,
    sudo_user STRING,
    sudo_run_as STRING,
    sudo_command STRING,
    sudo_error STRING,
    useradd_user STRING,
    event_time TIMESTAMP,
    source STRING,
    account_id STRING,
    related_ips ARRAY<STRING>,
    related_users ARRAY<STRING>,
    related_arns ARRAY<STRING>,
    related_accounts ARRAY<STRING>
)
PARTITIONED BY (account STRING, region STRING, dt STRING, hour STRING)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION '{{ lake_url }}/curated/cloudwatch/'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '{{ accounts }}',
    'projection.region.type' = 'enum',
    'projection.region.values' = '{{ regions }}',
    'projection.dt.type' = 'date',
    'projection.dt.format' = 'yyyy-MM-dd',
    'projection.dt.range' = '{{ projection_start }},NOW',
    'projection.hour.type' = 'integer',
    'projection.hour.range' = '0,23',
    'projection.hour.digits' = '2',
    'storage.location.template'
    = '{{ lake_url }}/curated/cloudwatch/account=${account}/region=${region}/dt=${dt}/hour=${hour}',
    'parquet.compression' = 'ZSTD'
)
