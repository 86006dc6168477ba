"""App: the ways in.
Takes settings, files and questions; gives the Index object, chat sessions, the CLI, the Gradio UI and exports."""
