"""Running the suite against AWS: Elastic Beanstalk + RDS deployments and EC2 load generators.

``plan`` (what a run creates and costs; no credentials needed), ``preflight`` (read-only checks against the
account), ``create`` / ``move`` / ``reset`` / ``telemetry`` / ``teardown`` (the provider's concerns, driven by
:mod:`scaleperf.providers.aws`), ``stack`` (what a session created), ``deployment`` (a running configuration),
``environment`` (option settings, waiting, reading the fleet back), ``database`` (engine, version, properties),
``rails`` (a Rails app as it is), ``bundle`` (the source bundle), ``groups`` (security groups that finish
deleting), ``cloud`` (the seam in front of boto3), ``boto`` / ``boto_eb`` / ``boto_ec2`` / ``account`` /
``inventory`` / ``errors`` (the boto3 adapter), ``fake`` / ``fake_rules`` / ``fake_wire`` / ``fake_ec2`` (an
in-memory Elastic Beanstalk with the service's rules, for tests), ``sweep`` (deleting what a run left),
``loadgen`` (Locust workers on EC2), ``cli`` (``scaleperf aws``).
"""
