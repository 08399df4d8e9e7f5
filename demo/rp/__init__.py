"""The demo relying party (``/demo-rp/``): a web shop's login and PDF signing, built on
the relying parties' SDK (``smartid_client``) alone, as any relying party would build it.

It reaches the platform only over HTTP (RP API v3, ``/ca/``), never through its modules
(an import-linter contract keeps it so). ``demo.world`` registers its relying party.
"""

#: The relying party of the demo RP (``demo_setup`` registers it): UUID and registered name.
DEMO_RP_UUID = "de300000-0000-4000-8000-000000000000"
DEMO_RP_NAME = "DEMO RP"
