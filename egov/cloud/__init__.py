"""The government cloud ("one cloud") as code: Pulumi component resources over OpenStack.

The layout of the clouds ("1+11+N": one provincial, the municipal and the industry clouds), their
departments, the "two sites, three centres" disaster recovery and the migration catalogue are plain
data (``config``, ``catalogue``); ``model`` turns them into a plan of tenancies, quotas, DR replicas
and migration waves without touching Pulumi; ``program`` maps that plan to component resources
(``region``, ``tenancy``, ``dr``, ``wave``). ``plan`` runs the program offline under Pulumi's mocks
and ``policy`` checks every resource it would create. ``engine`` drives the real Pulumi engine.
"""
