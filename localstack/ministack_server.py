"""ministack with the gaps closed that ftctl runs into (ministack 1.5.33; details, AWS references
and what ministack did are in each module of ministack_patches/):

- DynamoDB (ministack_patches/dynamodb.py): a replica whose resource policy denies the
  replication role neither receives nor sends replicated writes until the deny is gone (ministack
  replicated everything at once).
- DocumentDB (ministack_patches/documentdb.py): responses aws-sdk-docdb can parse (ministack
  padded the booleans of every DBInstance), the model's error codes, a managed master password in
  a real Secrets Manager secret (MasterUserSecret), instances that show their cluster's subnet
  group, security groups and encryption, subnet groups and security groups made in moto accepted,
  final and manual cluster snapshots, DocumentDB's cluster parameters (`tls`) with pending-reboot,
  deletion protection on the cluster only, deferred instance-class changes, failover by tier.
- CloudFront (ministack_patches/cloudfront.py): an origin that cannot be reached or does not
  answer is a 502 or 504 answered with the custom error page (ministack skipped it), and a fetch
  from an S3 origin is as secure as the viewer's request (a bucket policy denying insecure
  transport refused it).
- CloudWatch (ministack_patches/cloudwatch.py): an alarm evaluates only its own metric (ministack
  mixed in every metric of that name, whatever its dimensions), and ListDashboards answers over
  CBOR with its timestamps as timestamps (an ISO string made the Rust SDK fail to read them).
- Resource Groups Tagging API (ministack_patches/tagging.py): GetResources lists CloudWatch
  alarms with their tags (ministack had no collector for them).

Everything else is ministack unchanged. Its settings come from the environment, as for the
`ministack` command.
"""

import sys

import ministack_patches  # noqa: F401  (applies the patches)
from ministack.app import main

if __name__ == "__main__":
    sys.exit(main())
