from servestatic.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files, with ES module imports rewritten to hashed names.

    Without the rewrite, `import "./store.js"` inside `app.<hash>.js` loads the
    unhashed file, which a browser may hold from before the last deploy.
    """

    support_js_module_import_aggregation = True
    # A module's hash covers the hashed names it imports, so each pass settles one more
    # level of the import graph; Django's 5 stop short of app.js → view.js → … → i18n.js.
    max_post_process_passes = 20
