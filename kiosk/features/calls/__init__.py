"""The core's calls: LED boards, voice, the retained board state, call.displayed."""
