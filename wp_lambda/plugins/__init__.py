"""The plugin lifecycle: the lock of zip hashes (``lock``), the plugin directory's API
(``directory``), the edits of ``wplambda.toml`` (``pins``) and the live site's reconciliation
with what the file declares (``reconcile``)."""
