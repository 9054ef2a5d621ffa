"""``wplambda export`` / ``wplambda import``: a site's database and uploads out and in.

``checks`` (what a dump and an uploads folder must be), ``staging`` (where the dump waits between
this machine and the console function: the artifact bucket or a local folder), ``uploads`` (media
by content), ``manifest`` (what an export holds) and ``service`` (the two commands' steps). The
database itself is dumped and restored by ``wp_lambda/runtime/dbio.php`` inside the console function.
"""
