"""What the kiosk says to the patient, per language. Pure: templates and formatting only.

Messages are short and say what to do next; the error messages for not_found, cancelled,
other_site and too_late say that a reception ticket is offered (the UI shows the button).
"""
from __future__ import annotations

from datetime import datetime

MESSAGES: dict[str, dict[str, str]] = {
    "ru": {
        "checkin.doctor": "Вы отмечены. Ваш номер {ticket}. Кабинет {room}{floor}. Ожидайте вызова на табло.",
        "checkin.registration": "Ваш номер {ticket}. Вы у нас впервые: сначала пройдите в регистратуру{reg},"
                                " затем к врачу в кабинет {room}.",
        "checkin.box": "Ваш номер {ticket}. Пройдите, пожалуйста, в изолятор (бокс). Врач придёт к вам.",
        "checkin.repeated": "Вы уже отмечены сегодня. ",
        "checkin.offline": " Связь с регистратурой временно нарушена, ваша отметка будет передана позже.",
        "ticket.issued": "Ваш номер {ticket}: {service}{room}. Перед вами: {ahead}.",
        "ticket.doctor": " Врач: {doctor}.",
        "not_printed": " Талон не напечатан — запомните номер {ticket}, он на экране.",
        "floor": ", этаж {floor}",
        "room": ", кабинет {room}",
        "reg_room": " (кабинет {room})",
        "error.not_found": "Запись не найдена. Проверьте данные или возьмите талон в регистратуру.",
        "error.too_early": "Отметиться можно с {time}. Приходите, пожалуйста, к этому времени.",
        "error.too_late": "Время вашего приёма прошло. Возьмите талон в регистратуру — вам помогут.",
        "error.cancelled": "Эта запись отменена. Возьмите талон в регистратуру — вам помогут.",
        "error.other_site": "Эта запись в другое отделение клиники. Возьмите талон в регистратуру — вам подскажут.",
        "error.representative_required": "Пациенту нет 18 лет. Подтвердите, что вы его законный представитель.",
        "error.invalid": "Не удалось прочитать данные. Попробуйте ещё раз или обратитесь в регистратуру.",
        "error.refused": "Регистратура не подтвердила отметку. Возьмите талон в регистратуру — вам помогут.",
        "error.unknown_service": "Такой услуги нет. Выберите услугу из списка.",
        "error.core_offline": "Запись на сегодня сейчас недоступна. Возьмите талон в регистратуру.",
        "error.slot_taken": "Это время уже занято. Выберите другое.",
        "feedback.thanks": "Спасибо за отзыв!",
        "feedback.follow_up": "Спасибо за отзыв! Мы разберёмся и свяжемся с вами через регистратуру.",
        "sameday.booked": "Вы записаны на {time}, кабинет {room}.",
        "sameday.none": "На сегодня свободного времени нет. Возьмите талон в регистратуру.",
    },
    "zh": {
        "checkin.doctor": "签到成功。您的号码是 {ticket}。{room} 诊室{floor}。请留意叫号屏。",
        "checkin.registration": "您的号码是 {ticket}。您是初诊患者：请先到挂号处{reg}，再到 {room} 诊室就诊。",
        "checkin.box": "您的号码是 {ticket}。请前往隔离诊室，医生会到那里为您诊治。",
        "checkin.repeated": "您今天已签到。",
        "checkin.offline": "与挂号系统的连接暂时中断，您的签到稍后会同步。",
        "ticket.issued": "您的号码是 {ticket}：{service}{room}。前面等候 {ahead} 人。",
        "ticket.doctor": "医生：{doctor}。",
        "not_printed": "小票未能打印，请记住屏幕上的号码 {ticket}。",
        "floor": "，{floor} 楼",
        "room": "，{room} 室",
        "reg_room": "（{room} 室）",
        "error.not_found": "未找到预约。请核对信息或领取挂号处号码。",
        "error.too_early": "请于 {time} 之后签到。",
        "error.too_late": "您的预约时间已过。请领取挂号处号码，工作人员会帮助您。",
        "error.cancelled": "该预约已取消。请领取挂号处号码，工作人员会帮助您。",
        "error.other_site": "该预约属于其他院区。请领取挂号处号码，工作人员会为您指引。",
        "error.representative_required": "患者未满 18 岁。请确认您是其法定代理人。",
        "error.invalid": "无法读取信息。请重试或前往挂号处。",
        "error.refused": "挂号系统未确认签到。请领取挂号处号码，工作人员会帮助您。",
        "error.unknown_service": "没有该服务。请从列表中选择。",
        "error.core_offline": "当日预约暂时不可用。请领取挂号处号码。",
        "error.slot_taken": "该时间已被预约，请另选时间。",
        "feedback.thanks": "感谢您的评价！",
        "feedback.follow_up": "感谢您的评价！我们会跟进处理。",
        "sameday.booked": "已为您预约 {time}，{room} 诊室。",
        "sameday.none": "今天已无空余时段。请领取挂号处号码。",
    },
    "en": {
        "checkin.doctor": "You are checked in. Your number is {ticket}. Room {room}{floor}. Please watch the call board.",
        "checkin.registration": "Your number is {ticket}. As this is your first visit, please go to registration{reg}"
                                " first, then to room {room}.",
        "checkin.box": "Your number is {ticket}. Please go to the isolation box; the doctor will come to you.",
        "checkin.repeated": "You are already checked in today. ",
        "checkin.offline": " The link to the clinic system is down; your check-in will be passed on later.",
        "ticket.issued": "Your number is {ticket}: {service}{room}. People ahead: {ahead}.",
        "ticket.doctor": " Doctor: {doctor}.",
        "not_printed": " The ticket could not be printed: please remember your number {ticket} on the screen.",
        "floor": ", floor {floor}",
        "room": ", room {room}",
        "reg_room": " (room {room})",
        "error.not_found": "No booking found. Please check your details or take a ticket for registration.",
        "error.too_early": "Check-in opens at {time}. Please come back then.",
        "error.too_late": "Your appointment time has passed. Please take a ticket for registration; they will help you.",
        "error.cancelled": "This booking was cancelled. Please take a ticket for registration; they will help you.",
        "error.other_site": "This booking is at another branch of the clinic. Please take a ticket for registration.",
        "error.representative_required": "The patient is under 18. Please confirm you are their legal representative.",
        "error.invalid": "The details could not be read. Please try again or ask at registration.",
        "error.refused": "The clinic system did not confirm the check-in. Please take a ticket for registration; they will help you.",
        "error.unknown_service": "There is no such service. Please choose one from the list.",
        "error.core_offline": "Same-day booking is not available right now. Please take a ticket for registration.",
        "error.slot_taken": "This time has just been taken. Please choose another.",
        "feedback.thanks": "Thank you for your feedback!",
        "feedback.follow_up": "Thank you for your feedback! We will look into it.",
        "sameday.booked": "You are booked for {time}, room {room}.",
        "sameday.none": "There are no free times left today. Please take a ticket for registration.",
    },
}


# Specialties as the core names them, for receipts; a specialty not here is named by the configured
# walk-in service of that specialty, else shown as the core sent it.
SPECIALTIES: dict[str, dict[str, str]] = {
    "therapist": {"ru": "Терапевт", "zh": "内科", "en": "General practitioner"},
    "cardiologist": {"ru": "Кардиолог", "zh": "心内科", "en": "Cardiologist"},
    "neurologist": {"ru": "Невролог", "zh": "神经内科", "en": "Neurologist"},
    "ophthalmologist": {"ru": "Офтальмолог", "zh": "眼科", "en": "Ophthalmologist"},
    "pediatrician": {"ru": "Педиатр", "zh": "儿科", "en": "Pediatrician"},
    "surgeon": {"ru": "Хирург", "zh": "外科", "en": "Surgeon"},
    "otolaryngologist": {"ru": "Оториноларинголог (ЛОР)", "zh": "耳鼻喉科", "en": "ENT specialist"},
}


def text(lang: str, key: str, **values) -> str:
    table = MESSAGES.get(lang) or MESSAGES["en"]
    return table[key].format(**values)


def clock(when: datetime, today: datetime) -> str:
    """'10:30', or '24.11 10:30' when it is not today (a booking for another day)."""
    if when.date() == today.date():
        return when.strftime("%H:%M")
    return when.strftime("%d.%m %H:%M")


def floor_part(lang: str, floor: int | None) -> str:
    return text(lang, "floor", floor=floor) if floor is not None else ""


def room_part(lang: str, room: str | None) -> str:
    return text(lang, "room", room=room) if room else ""
