-- Athena table over mamori's curated VPC Flow Logs Parquet. One fixed column set (every field of format
-- versions 2-8, NULL when a flow log does not capture it), named as in AWS's Athena DDL for flow logs
-- (field names with '-' -> '_'; `end` is reserved: write "end" in queries), except that the v4 region field
-- is flow_region (region is a partition key) and account-id is the common account_id column.
-- Partition projection: no crawler, no MSCK; account/region are enums rendered from configuration,
-- dt is a date range, hour 00-23. Rendered by `mamori` with lake_url / accounts / regions / projection_start.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ database }}.vpcflow (
    version INT,
    interface_id STRING,
    srcaddr STRING,
    dstaddr STRING,
    srcport INT,
    dstport INT,
    protocol INT,
    packets BIGINT,
    bytes BIGINT,
    start BIGINT,
    `end` BIGINT,
    action STRING,
    log_status STRING,
    vpc_id STRING,
    subnet_id STRING,
    instance_id STRING,
    tcp_flags INT,
    type STRING,
    pkt_srcaddr STRING,
    pkt_dstaddr STRING,
    flow_region STRING,
    az_id STRING,
    sublocation_type STRING,
    sublocation_id STRING,
    pkt_src_aws_service STRING,
    pkt_dst_aws_service STRING,
    flow_direction STRING,
    traffic_path INT,
    ecs_cluster_arn STRING,
    ecs_cluster_name STRING,
    ecs_container_instance_arn STRING,
    ecs_container_instance_id STRING,
    ecs_container_id STRING,
    ecs_second_container_id STRING,
    ecs_service_name STRING,
    ecs_task_definition_arn STRING,
    ecs_task_arn STRING,
    ecs_task_id STRING,
    reject_reason STRING,
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
LOCATION '{{ lake_url }}/curated/vpcflow/'
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
    = '{{ lake_url }}/curated/vpcflow/account=${account}/region=${region}/dt=${dt}/hour=${hour}',
    'parquet.compression' = 'ZSTD'
)
