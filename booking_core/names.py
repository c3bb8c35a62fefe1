"""Fictional Russian patients: name parts, birth dates and phone numbers drawn from a seeded RNG."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

# Every surname here takes the feminine form by adding "а" (-ов, -ев, -ёв, -ин).
SURNAMES = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
    "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
    "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв",
    "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв", "Сергеев", "Кузьмин", "Фролов",
    "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв", "Ильин", "Максимов", "Поляков", "Сорокин",
    "Виноградов", "Ковалёв", "Белов", "Медведев", "Антонов", "Тарасов", "Жуков", "Баранов", "Филиппов",
    "Комаров", "Давыдов", "Беляев", "Герасимов", "Богданов", "Осипов", "Сидоров", "Матвеев", "Титов",
)
MALE_NAMES = (
    "Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл", "Михаил",
    "Никита", "Матвей", "Роман", "Егор", "Иван", "Владимир", "Николай", "Павел", "Олег", "Виктор",
    "Юрий", "Григорий", "Константин", "Фёдор", "Тимофей", "Лев", "Евгений", "Борис",
)
FEMALE_NAMES = (
    "Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Екатерина", "Светлана", "Юлия",
    "Анастасия", "Дарья", "Полина", "Виктория", "Ксения", "Вера", "Галина", "Людмила", "Софья", "Алиса",
    "Марина", "Валентина", "Нина", "Евгения",
)
# (masculine, feminine) patronymics
PATRONYMICS = (
    ("Александрович", "Александровна"), ("Дмитриевич", "Дмитриевна"), ("Сергеевич", "Сергеевна"),
    ("Андреевич", "Андреевна"), ("Алексеевич", "Алексеевна"), ("Михайлович", "Михайловна"),
    ("Иванович", "Ивановна"), ("Владимирович", "Владимировна"), ("Николаевич", "Николаевна"),
    ("Павлович", "Павловна"), ("Олегович", "Олеговна"), ("Викторович", "Викторовна"),
    ("Юрьевич", "Юрьевна"), ("Петрович", "Петровна"), ("Игоревич", "Игоревна"),
    ("Борисович", "Борисовна"), ("Романович", "Романовна"), ("Евгеньевич", "Евгеньевна"),
    ("Анатольевич", "Анатольевна"), ("Васильевич", "Васильевна"), ("Константинович", "Константиновна"),
)


@dataclass(frozen=True)
class FakePerson:
    full_name: str
    display: str  # "Фамилия И. О.", what the kiosk and the screening post show
    birth_date: date
    phone: str


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year - years, day=28)


def birth_date(rng: random.Random, day: date, *, child: bool) -> date:
    """A child is at least a month old and under 18 on `day`; an adult is 18 to 89."""
    if child:
        earliest, latest = years_before(day, 18) + timedelta(days=1), day - timedelta(days=30)
    else:
        earliest, latest = years_before(day, 90) + timedelta(days=1), years_before(day, 18)
    return date.fromordinal(rng.randint(earliest.toordinal(), latest.toordinal()))


def person(rng: random.Random, day: date, *, child: bool, taken_phones: set[str]) -> FakePerson:
    female = rng.random() < 0.55
    surname = rng.choice(SURNAMES) + ("а" if female else "")
    first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
    patronymic = rng.choice(PATRONYMICS)[1 if female else 0]
    while True:  # unique numbers, so a lookup by phone finds one patient
        phone = "+79" + "".join(str(rng.randrange(10)) for _ in range(9))
        if phone not in taken_phones:
            taken_phones.add(phone)
            break
    return FakePerson(full_name=f"{surname} {first} {patronymic}", display=f"{surname} {first[0]}. {patronymic[0]}.",
                      birth_date=birth_date(rng, day, child=child), phone=phone)
