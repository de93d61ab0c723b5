# The production image: the same code runs as web (gunicorn), worker and beat.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN CALENDENCE_ENV=development python manage.py collectstatic --noinput
USER nobody
