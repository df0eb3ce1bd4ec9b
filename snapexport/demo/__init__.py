"""The bundled demo site: a small paperless-like Django project and its data generator.

``snapexport.demo.settings`` is the settings module (its folder comes from the environment
variable ``SNAPEXPORT_DEMO_DIR``); ``snapexport.demo.site`` is the app with label
``documents``; ``snapexport.demo.generate`` creates and mutates a site deterministically.
"""
