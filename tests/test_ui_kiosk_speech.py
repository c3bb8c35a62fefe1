"""Accessibility mode reads the result aloud with the call boards' offline voice (espeak-ng)."""
from __future__ import annotations

import wave

from ui.speech import Voice


def test_the_result_is_rendered_to_speech_offline_in_the_patients_language(tmp_path):
    voice = Voice(tmp_path, player="")  # no sound card here: the WAV is what would be played
    assert voice.available, "espeak-ng is installed by scripts/bootstrap.sh"
    for lang, text in (("ru", "Ваш номер. T 0 1 4. Кабинет 12"), ("zh", "您的号码. T 0 1 4. 12号诊室"),
                       ("en", "Your number. T 0 1 4. Room 12")):
        wav = voice.say(text, lang, wait=True)
        with wave.open(str(wav)) as audio:
            seconds = audio.getnframes() / audio.getframerate()
        assert seconds > 1.0, (lang, seconds)  # real speech, not an empty file


def test_without_the_voice_installed_nothing_is_said_and_nothing_breaks(tmp_path):
    voice = Voice(tmp_path, player="")
    voice.espeak = None
    assert voice.say("Ваш номер", "ru") is None
