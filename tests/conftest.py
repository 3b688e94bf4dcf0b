"""Make the repository importable as ansible_collections.dnsops.zonesync for every test.

The collection lives at the repository root. A symlink tree under .tmp/
(git-ignored) gives it the path Ansible expects, both for imports in unit
tests and for ANSIBLE_COLLECTIONS_PATH in integration tests.
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO, '.tmp', 'collections')


def _link_collection():
    ns_dir = os.path.join(COLLECTIONS_ROOT, 'ansible_collections', 'dnsops')
    link = os.path.join(ns_dir, 'zonesync')
    os.makedirs(ns_dir, exist_ok=True)
    if os.path.islink(link) and os.path.realpath(link) == REPO:
        return
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(REPO, link)


_link_collection()
if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)
os.environ['ANSIBLE_COLLECTIONS_PATH'] = COLLECTIONS_ROOT
