class User < ApplicationRecord
  has_secure_password
  has_one :expert_profile, dependent: :destroy
  validates :username, presence: true, uniqueness: true, length: { in: 3..50 }
  validates :password, length: { minimum: 6 }, allow_nil: true

  def auth_json
    { id: id, username: username, created_at: ApplicationRecord.iso(created_at),
      last_active_at: ApplicationRecord.iso(last_active_at) }
  end
end
