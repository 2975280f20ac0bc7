"""The wire format: client frames parsed into commands (`commands`), and every frame
the server sends (`frames`), with the schema the tests hold them to (`schema`)."""
