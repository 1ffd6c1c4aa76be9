#!/usr/bin/env bash
# Put Spark's s3a connector into pyspark's jars: hadoop-aws of the Hadoop version pyspark ships,
# and the AWS SDK bundle that hadoop-aws declares, resolved by Spark's own resolver (Ivy) from
# Maven Central.
set -euo pipefail
jars=$(python3 -c 'import pathlib, pyspark; print(pathlib.Path(pyspark.__file__).parent / "jars")')
hadoop=$(ls "$jars" | sed -n 's/^hadoop-client-api-\(.*\)\.jar$/\1/p')
echo "fetching org.apache.hadoop:hadoop-aws:$hadoop for pyspark's Hadoop $hadoop" >&2
ivy=$(mktemp -d)
python3 - "$hadoop" "$ivy" <<'PY'
import sys
from pyspark.sql import SparkSession

hadoop, ivy = sys.argv[1:]
SparkSession.builder.master("local[1]").config(
    "spark.jars.packages", f"org.apache.hadoop:hadoop-aws:{hadoop}"
).config("spark.jars.ivy", ivy).getOrCreate().stop()
PY
cp "$ivy"/jars/org.apache.hadoop_hadoop-aws-*.jar "$jars/hadoop-aws-$hadoop.jar"
for bundle in "$ivy"/jars/software.amazon.awssdk_bundle-*.jar; do
  cp "$bundle" "$jars/${bundle##*/software.amazon.awssdk_}"
done
rm -rf "$ivy"
ls "$jars" | grep -E '^(hadoop-aws|bundle)-' >&2
