"""Pulumi program of the egov-cloud project (Pulumi.yaml at the repo root runs this file).

Everything lives in the package: ``egov.cloud.program.main`` reads this stack's file
(stacks/Pulumi.<stack>.yaml), its catalogue and lock file, and creates the component resources.
The same model is checked offline by ``egov cloud plan --stack <stack>``.
"""

from egov.cloud.program import main

main()
