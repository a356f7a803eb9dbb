"""I/O: http, feeds, the SQLite store, the downloader, audio files, playback backends, libVLC loading."""
