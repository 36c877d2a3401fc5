"""The caller's own data: the streamed export, account deletion and its signed receipt."""
