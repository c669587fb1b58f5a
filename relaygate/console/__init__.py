"""The web console's static files (static/): HTML, CSS and JavaScript modules, served by server/console_routes.py."""
