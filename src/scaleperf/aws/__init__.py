"""Running the suite against AWS: Elastic Beanstalk + RDS deployments and EC2 load generators.

``plan`` (what a run creates and costs; no credentials needed), ``cloud`` (the seam in front of boto3),
``boto`` (the boto3 adapter), ``fake`` (an in-memory Elastic Beanstalk for tests), ``bundle`` (the
application source bundle), ``environment`` (option settings and waiting for an environment),
``sweep`` (deleting what a run left), ``loadgen`` (Locust workers on EC2), ``cli`` (``scaleperf aws``).
"""
