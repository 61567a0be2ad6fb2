#!/usr/bin/env python3
"""Prepare a moto S3 server started with INITIAL_NO_AUTH_ACTION_COUNT=3 (signatures are
checked after the first three calls): make an IAM user with an access key allowed to do
everything, then print the key and secret as JSON. Buckets are made by the tests with the key.

usage: moto_setup.py http://127.0.0.1:PORT
"""
import json
import sys

import boto3

endpoint = sys.argv[1]
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="somiti")
iam.put_user_policy(
    UserName="somiti", PolicyName="all",
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="somiti")["AccessKey"]
print(json.dumps({"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
